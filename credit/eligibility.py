"""Listing eligibility: may this merchant list this product now, and if not, why not.

Four primary-key or index lookups (subject, licence, commitment, black list), so the
check stays well under 20 ms at a million rows.  Product facts come from trace, filled
in by web (credit never imports trace).  Every failed condition is one ``Reason`` with a
stable code and Chinese and English text; the answer is eligible only without reasons.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from credit import rules
from credit._entries import aware
from credit.models import Commitment, Licence, ListEntry, Subject
from credit.services import identity_status

__all__ = ["ProductFacts", "Reason", "Eligibility", "REASONS", "check_eligibility"]


@dataclass(frozen=True)
class ProductFacts:
    """What trace knows about the product and batch to be listed."""

    category: str  # a key of rules.PRODUCT_CATEGORIES
    has_production: bool
    has_inspection: bool
    batch_recalled: bool
    batch_expired: bool


@dataclass(frozen=True)
class Reason:
    """Why a listing is refused: a stable ``code`` and its text in Chinese and English."""

    code: str
    zh: str
    en: str


@dataclass(frozen=True)
class Eligibility:
    """The answer: ``eligible`` exactly when ``reasons`` is empty."""

    eligible: bool
    reasons: list[Reason] = field(default_factory=list)


# code -> (zh, en); {category} is filled in.  Codes are public API: never rename one.
REASONS: dict[str, tuple[str, str]] = {
    "subject.unknown": ("经营者未登记为信用主体", "the merchant is not a registered credit subject"),
    "subject.inactive": ("经营者状态不允许经营（待核验、已驳回或已注销）",
                         "the merchant is pending verification, rejected or closed"),
    "realname.unverified": ("经营者未通过实名核验", "the merchant's real name is not verified"),
    "realname.overdue": ("实名核验已到期，须重新核验", "the real-name re-verification is overdue"),
    "licence.missing": ("无有效的{category}许可证（未登记或已过期）",
                        "no valid licence for {category} (missing or expired)"),
    "commitment.missing": ("未作出有效的信用承诺", "no active credit commitment"),
    "list.blacklisted": ("经营者已列入失信黑名单", "the merchant is on the black list"),
    "category.unknown": ("未知商品类别：{category}", "unknown product category: {category}"),
    "product.no_production": ("商品无生产记录", "the product has no production event"),
    "product.no_inspection": ("{category}须有检验记录", "{category} needs an inspection event"),
    "batch.recalled": ("该批次已召回", "the batch is recalled"),
    "batch.expired": ("该批次已过保质期/有效期", "the batch has expired"),
}


def _reason(code: str, category: str = "") -> Reason:
    zh, en = REASONS[code]
    return Reason(code, zh.format(category=category), en.format(category=category))


def _subject_reasons(session: Session, merchant_id: str, facts: ProductFacts,
                     now: datetime) -> list[Reason]:
    subject = session.get(Subject, merchant_id)
    if subject is None:
        return [_reason("subject.unknown")]
    found: list[Reason] = []
    if subject.status != "active":
        found.append(_reason("subject.inactive"))
    status = identity_status(subject, now)
    if status != "verified":
        found.append(_reason("realname.overdue" if status == "overdue" else "realname.unverified"))
    category = rules.PRODUCT_CATEGORIES.get(facts.category)
    if category is not None and category.licences:
        licence = session.scalar(select(Licence.id).where(
            Licence.subject_id == merchant_id, Licence.licence_type.in_(category.licences),
            Licence.valid_until > now, Licence.valid_from <= now, Licence.status == "valid",
        ).limit(1))
        if licence is None:
            found.append(_reason("licence.missing", category.zh))
    commitment = session.scalar(select(Commitment.id).where(
        Commitment.subject_id == merchant_id, Commitment.status == "active",
        Commitment.valid_until.is_(None) | (Commitment.valid_until > now)).limit(1))
    if commitment is None:
        found.append(_reason("commitment.missing"))
    black = session.scalar(select(ListEntry.id).where(
        ListEntry.subject_id == merchant_id, ListEntry.list_kind == "black",
        ListEntry.status == "active", ListEntry.start <= now, ListEntry.auto_end > now).limit(1))
    if black is not None:
        found.append(_reason("list.blacklisted"))
    return found


def check_eligibility(session: Session, merchant_id: str, product_facts: ProductFacts,
                      now: datetime) -> Eligibility:
    """Return whether ``merchant_id`` may list the product of ``product_facts`` at ``now``.

    Checks: registered and active; real name verified and not overdue; a valid licence
    for the category (expired = missing); an active credit commitment; not black-listed;
    a production event; an inspection for regulated categories; batch neither recalled
    nor expired.
    """
    now = aware(now)
    facts = product_facts
    reasons = _subject_reasons(session, merchant_id, facts, now)
    category = rules.PRODUCT_CATEGORIES.get(facts.category)
    if category is None:
        reasons.append(_reason("category.unknown", facts.category))
    if not facts.has_production:
        reasons.append(_reason("product.no_production"))
    if category is not None and category.regulated and not facts.has_inspection:
        reasons.append(_reason("product.no_inspection", category.zh))
    if facts.batch_recalled:
        reasons.append(_reason("batch.recalled"))
    if facts.batch_expired:
        reasons.append(_reason("batch.expired"))
    return Eligibility(not reasons, reasons)
