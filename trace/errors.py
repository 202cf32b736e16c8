"""Errors of the trace package.

Every error derives from :class:`TraceError` (a :class:`ledger.errors.DomainError`)
and carries a stable machine ``code`` (public API: never rename one), a short
title in Chinese and English, and a message naming the bad value.  Errors that
have a finer reason carry it in ``extra`` (``web/errors.py`` copies ``extra``
into the RFC 9457 problem body):

- :class:`RuleViolation`: ``extra["reason"]``, e.g. ``trace.rule.sale_before_listing``
  (the reasons are listed in :data:`trace.rules.REASONS`);
- :class:`BadIdentifier`: ``extra["reason"]``, the code of the ``labels`` error it
  wraps, e.g. ``labels.bad_check_digit`` (one piece of code for the GS1 rules);
- :class:`ForbiddenRole`: ``extra["reason"]`` (wrong role, not the owner, ...);
- :class:`EpcisInvalid`: ``extra["problems"]``, every problem found in the document.

Every refusal is raised before anything is appended, so nothing is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ledger.errors import DomainError

__all__ = [
    "TraceError",
    "BadIdentifier",
    "BadEvent",
    "CardNumberRefused",
    "NotFound",
    "Duplicate",
    "RuleViolation",
    "ForbiddenRole",
    "ProofMismatch",
    "EpcisInvalid",
]


class TraceError(DomainError):
    """Base error of the trace package; ``extra`` holds machine-readable details."""

    code = "trace.error"
    title_en = "Traceability error"
    title_zh = "追溯错误"

    def __init__(
        self, detail: str, *, code: str | None = None, extra: dict[str, Any] | None = None
    ) -> None:
        super().__init__(detail, code=code)
        self.extra: dict[str, Any] = dict(extra or {})


class BadIdentifier(TraceError):
    """A GTIN, SSCC, GLN, lot or serial number is invalid (``extra["reason"]`` says why)."""

    code = "trace.bad_identifier"
    title_en = "Invalid GS1 identifier"
    title_zh = "GS1 标识无效"


class BadEvent(TraceError):
    """An event body is malformed: a field is missing, unknown or out of range."""

    code = "trace.bad_event"
    title_en = "Invalid event"
    title_zh = "事件内容无效"


class CardNumberRefused(BadEvent):
    """A payment field looks like a payment card number (PAN); we never store one."""

    code = "trace.card_number_refused"
    title_en = "Card numbers are not accepted"
    title_zh = "不接受银行卡号"


class NotFound(TraceError):
    """The product, batch, item, logistic unit or event does not exist."""

    code = "trace.not_found"
    title_en = "Not found"
    title_zh = "未找到"


class Duplicate(TraceError):
    """The product, batch, item or event exists already."""

    code = "trace.duplicate"
    title_en = "Already recorded"
    title_zh = "重复记录"


class RuleViolation(TraceError):
    """The event breaks a lifecycle rule; ``reason`` is the sub-code (``trace.rule.…``)."""

    code = "trace.rule_violation"
    title_en = "Lifecycle rule violated"
    title_zh = "违反流程规则"

    def __init__(self, detail: str, *, reason: str) -> None:
        super().__init__(detail, extra={"reason": reason})
        self.reason = reason


class ForbiddenRole(TraceError):
    """The actor's role may not record this event, or the actor does not own the object."""

    code = "trace.forbidden_role"
    title_en = "Not allowed for this role"
    title_zh = "该角色无权操作"

    def __init__(self, detail: str, *, reason: str = "trace.forbidden.role") -> None:
        super().__init__(detail, extra={"reason": reason})
        self.reason = reason


class ProofMismatch(TraceError):
    """A consumer's commitment opening is missing or matches neither buyer nor signer."""

    code = "trace.proof_mismatch"
    title_en = "Not the buyer or the person who signed"
    title_zh = "无法证明是买家或签收人"


class EpcisInvalid(TraceError):
    """An EPCIS document is malformed or schema-invalid; ``extra["problems"]`` lists all."""

    code = "trace.epcis_invalid"
    title_en = "Invalid EPCIS document"
    title_zh = "EPCIS 文档无效"

    def __init__(self, detail: str, *, problems: Sequence[str]) -> None:
        super().__init__(detail, extra={"problems": list(problems)})
        self.problems = list(problems)
