"""Credit records (信用档案), their publication periods, and credit repair (信用修复).

A negative record is graded 轻微/一般/严重 (minor/general/serious).  Its publication
period follows NDRC 《信用修复管理办法》 (in force 2026-04-01; ``rules.PUBLICATION``):
repair may be requested from the minimum, publication stops by itself at the maximum,
and an approved repair stops it at once.  A record is never deleted: withdrawal (e.g.
the decision was annulled) and repair are new entries.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from credit import rules
from credit._entries import aware, new_id, require_role, subject_key, ts, write
from credit.errors import Conflict, Duplicate, Forbidden, InvalidInput, NotFound, TooEarly
from credit.models import Commitment, Record, Repair
from credit.projections import apply_records, apply_subjects
from credit.services import get_subject
from ledger.actor import Actor
from ledger.sequencer import LogWriter

__all__ = ["publication_window", "add_record", "withdraw_record", "record_commitment_breach",
           "apply_repair", "decide_repair", "records_in_effect", "public_records", "get_record"]

# Which roles may enter records from which source.
_SOURCE_ROLES: dict[str, frozenset[str]] = {
    "platform": frozenset({"platform", "admin"}),
    "regulator": frozenset({"inspector", "admin"}),
    "court": frozenset({"inspector", "admin"}),
    "consumer_complaint": frozenset({"platform", "inspector", "admin", "system"}),
    "logistics": frozenset({"logistics", "platform", "admin"}),
    "third_party_agency": frozenset({"inspector", "admin"}),
}
_APPLICANTS = frozenset({"merchant", "producer", "logistics", "courier", "platform", "admin"})
# Repairs of regulator and court records are decided by the regulator side only.
_OFFICIAL = frozenset({"regulator", "court"})


def publication_window(polarity: str, severity: str | None, start: datetime,
                       publish_months: int | None = None,
                       publish_until: datetime | None = None) -> tuple[bool, datetime, datetime]:
    """Return (published, earliest repair, end) of a record starting at ``start``.

    ``publish_months`` (or an explicit ``publish_until``, e.g. a 双公示 公示截止期)
    shortens publication within the rule's range; without either a negative record runs
    to the maximum (and a minor one is not published).

    :raises InvalidInput: for an unknown severity, or a period outside the rule's range.
    """
    if polarity == "positive":
        return True, start, rules.add_months(start, rules.POSITIVE_RECORD_MONTHS)
    if polarity != "negative" or severity is None or severity not in rules.PUBLICATION:
        raise InvalidInput(f"a {polarity!r} record needs a severity in {rules.SEVERITIES}")
    period = rules.PUBLICATION[severity]
    earliest = rules.add_months(start, period.minimum)
    longest = rules.add_months(start, period.maximum)
    if publish_until is not None:
        if not start < publish_until <= longest:
            raise InvalidInput(
                f"{rules.SEVERITY_ZH[severity]} records are published at most {period.maximum} "
                f"months (信用修复管理办法), not until {publish_until.isoformat()}")
        return True, earliest, publish_until
    if publish_months is None:
        return period.published, earliest, longest
    if not max(period.minimum, 1) <= publish_months <= period.maximum:
        raise InvalidInput(
            f"{rules.SEVERITY_ZH[severity]} records are published {period.minimum} to "
            f"{period.maximum} months (信用修复管理办法), not {publish_months}")
    return True, earliest, rules.add_months(start, publish_months)


def get_record(session: Session, record_id: str) -> Record:
    """Return the record ``record_id``.

    :raises NotFound: when there is none.
    """
    row = session.get(Record, record_id)
    if row is None:
        raise NotFound(f"no credit record {record_id!r}")
    return row


def add_record(writer: LogWriter, actor: Actor, subject_id: str, *, polarity: str, source: str,
               basis: str, facts: str, decided_at: datetime, now: datetime,
               severity: str | None = None, authority: str = "", decision_no: str | None = None,
               publish_months: int | None = None, publish_until: datetime | None = None,
               public: bool | None = None,
               commitment_id: str | None = None, complaint_id: str | None = None,
               cf: dict[str, str] | None = None) -> Record:
    """Append a credit record of ``subject_id`` and return it.

    ``public=False`` keeps a record unpublished (e.g. a warning alone, 《市场监督管理行政
    处罚信息公示规定》); it still counts in the score while in effect.

    :raises Forbidden: when the actor's role may not enter records from ``source``.
    :raises InvalidInput: for an unknown source, polarity, severity or period, a missing
        basis, or a decision dated after ``now``.
    :raises Duplicate: when a record with the same source, authority and decision number exists.
    """
    now, decided_at = aware(now), aware(decided_at, "decided_at")
    if source not in _SOURCE_ROLES:
        raise InvalidInput(f"unknown record source {source!r} (one of {', '.join(_SOURCE_ROLES)})")
    require_role(actor, _SOURCE_ROLES[source], f"enter {source} records")
    get_subject(writer.session, subject_id)
    if not basis.strip():
        raise InvalidInput("a credit record needs its basis (依据)")
    if decided_at > now:
        raise InvalidInput(f"decided_at {decided_at.isoformat()} is in the future")
    until = None if publish_until is None else aware(publish_until, "publish_until")
    published, earliest, end = publication_window(polarity, severity, decided_at, publish_months,
                                                  until)
    key = f"{source}:{authority}:{decision_no}" if decision_no else None
    if key and writer.session.scalar(select(Record.id).where(Record.external_key == key)):
        raise Duplicate(f"record {decision_no!r} of {authority or source} is recorded already")
    record_id = new_id()
    body: dict[str, Any] = {
        "id": record_id, "subject_id": subject_id, "polarity": polarity, "source": source,
        "severity": severity if polarity == "negative" else None, "basis": basis, "facts": facts,
        "authority": authority, "decision_no": decision_no, "decided_at": ts(decided_at),
        "public": published if public is None else (published and public),
        "start": ts(decided_at), "earliest_repair": ts(earliest), "end": ts(end),
        "commitment_id": commitment_id, "complaint_id": complaint_id, "external_key": key,
        "cf": cf, "rules": rules.RULES_VERSION,
    }
    write(writer, actor, now, apply_records,
          [("credit.record_added", subject_key(subject_id), body)])
    return get_record(writer.session, record_id)


def withdraw_record(writer: LogWriter, actor: Actor, record_id: str, reason: str, *,
                    now: datetime) -> Record:
    """Withdraw a record whose decision was annulled (复议/诉讼撤销); it stops counting.

    :raises Forbidden: when the actor's role may not enter records of its source.
    :raises Conflict: when the record is not active.
    """
    record = get_record(writer.session, record_id)
    require_role(actor, _SOURCE_ROLES[record.source], f"withdraw {record.source} records")
    if record.status != "active":
        raise Conflict(f"record {record_id} is {record.status}")
    write(writer, actor, now, apply_records, [("credit.record_withdrawn",
          subject_key(record.subject_id), {"id": record_id, "reason": reason})])
    return record


def record_commitment_breach(writer: LogWriter, actor: Actor, commitment_id: str, *, basis: str,
                             facts: str, severity: str, now: datetime) -> Record:
    """Record a breach of a credit commitment: a negative record referring to it.

    :raises NotFound: when there is no such commitment.
    :raises Conflict: when it is breached already.
    :raises Forbidden: unless a platform, inspector or administrator finds the breach.
    """
    commitment = writer.session.get(Commitment, commitment_id)
    if commitment is None:
        raise NotFound(f"no credit commitment {commitment_id!r}")
    if commitment.status != "active":
        raise Conflict(f"commitment {commitment_id} is {commitment.status}")
    source = "regulator" if actor.role == "inspector" else "platform"
    record = add_record(writer, actor, commitment.subject_id, polarity="negative", source=source,
                        basis=basis, facts=facts, severity=severity, decided_at=now, now=now,
                        commitment_id=commitment_id)
    write(writer, actor, now, apply_subjects, [("credit.commitment_breached",
          subject_key(commitment.subject_id), {"id": commitment_id, "record_id": record.id})])
    return record


def apply_repair(writer: LogWriter, actor: Actor, record_id: str, evidence: list[str], *,
                 now: datetime) -> Repair:
    """Apply for credit repair of a negative record, with evidence of correction.

    :raises Forbidden: when the actor's role may not apply.
    :raises InvalidInput: without evidence.
    :raises Conflict: when the record is not an active negative record in publication,
        or a repair is pending.
    :raises TooEarly: before the record's minimum publication period has passed.
    """
    now = aware(now)
    require_role(actor, _APPLICANTS, "apply for credit repair")
    record = get_record(writer.session, record_id)
    if not evidence or any(not isinstance(e, str) or not e.strip() for e in evidence):
        raise InvalidInput("a repair application needs evidence (a list of non-empty strings)")
    if record.polarity != "negative" or record.status != "active" or rules.utc(record.end) <= now:
        raise Conflict(f"record {record_id} is not a negative record in publication")
    if rules.utc(record.earliest_repair) > now:
        raise TooEarly(f"record {record_id} may be repaired from "
                       f"{rules.utc(record.earliest_repair).isoformat()} (信用修复管理办法)")
    pending = writer.session.scalar(select(Repair.id).where(
        Repair.record_id == record_id, Repair.status == "pending"))
    if pending:
        raise Conflict(f"repair {pending} of record {record_id} is pending")
    repair_id = new_id()
    write(writer, actor, now, apply_records, [(
        "credit.repair_applied", subject_key(record.subject_id),
        {"id": repair_id, "record_id": record_id, "evidence": list(evidence)})])
    return writer.session.get_one(Repair, repair_id)


def decide_repair(writer: LogWriter, actor: Actor, repair_id: str, approved: bool, reason: str, *,
                  now: datetime) -> Repair:
    """Approve (publication stops now) or reject a repair application.

    :raises NotFound: when there is no such application.
    :raises Forbidden: unless the regulator side decides (platform too for its own records).
    :raises Conflict: when it is decided already.
    """
    repair = writer.session.get(Repair, repair_id)
    if repair is None:
        raise NotFound(f"no repair application {repair_id!r}")
    record = get_record(writer.session, repair.record_id)
    deciders = {"inspector", "admin"} | (set() if record.source in _OFFICIAL else {"platform"})
    if actor.role not in deciders:
        raise Forbidden(f"role {actor.role!r} may not decide repairs of {record.source} records")
    if repair.status != "pending":
        raise Conflict(f"repair {repair_id} is {repair.status}")
    write(writer, actor, now, apply_records, [(
        "credit.repair_decided", subject_key(record.subject_id),
        {"id": repair_id, "record_id": record.id, "approved": approved, "reason": reason})])
    return repair


def records_in_effect(session: Session, subject_id: str, now: datetime) -> list[Record]:
    """Return the active records of ``subject_id`` whose period covers ``now`` (index scan)."""
    now = aware(now)
    stmt = select(Record).where(Record.subject_id == subject_id, Record.status == "active",
                                Record.end > now, Record.start <= now)
    return list(session.scalars(stmt.order_by(Record.start, Record.id)))


def public_records(session: Session, subject_id: str, now: datetime) -> list[Record]:
    """Return the records of ``subject_id`` published at ``now``."""
    return [r for r in records_in_effect(session, subject_id, now) if r.public]
