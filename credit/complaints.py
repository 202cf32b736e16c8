"""Complaints (投诉) and reports (举报) about an item, with a deadline clock.

Filing sets two deadlines (``rules.ANSWER_PERIOD`` for the merchant's answer,
``rules.DECISION_PERIOD`` for the platform's decision).  ``escalate_overdue`` hands
every case whose clock lapsed to the regulator, who then decides.  An upheld case
creates a negative credit record of the merchant (``rules.COMPLAINT_SEVERITY``) and may
be compensated in advance by the platform's fund (credit/fund.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from credit import rules
from credit._entries import aware, new_id, require_role, ts, write
from credit.errors import Conflict, Forbidden, InvalidInput, NotFound
from credit.models import Complaint
from credit.projections import apply_complaints
from credit.records import add_record
from credit.services import get_subject
from ledger.actor import SYSTEM, Actor
from ledger.sequencer import LogWriter

__all__ = ["KINDS", "OUTCOMES", "file_complaint", "answer_complaint", "decide_complaint",
           "escalate_overdue", "get_complaint", "complaints_about_item"]

KINDS = ("complaint", "report")
OUTCOMES = ("upheld", "rejected")
_FILERS = frozenset({"consumer", "platform", "admin"})
_ANSWERERS = frozenset({"merchant", "producer", "platform"})
_PLATFORM = frozenset({"platform", "admin"})
_REGULATOR = frozenset({"inspector", "admin"})
_MAX_TEXT = 2000


def _key(complaint_id: str) -> str:
    return f"complaint:{complaint_id}"


def get_complaint(session: Session, complaint_id: str) -> Complaint:
    """Return the complaint or report ``complaint_id``.

    :raises NotFound: when there is none.
    """
    row = session.get(Complaint, complaint_id)
    if row is None:
        raise NotFound(f"no complaint {complaint_id!r}")
    return row


def complaints_about_item(session: Session, item_key: str) -> list[Complaint]:
    """Return the complaints and reports about ``item_key``, oldest first (index lookup)."""
    stmt = select(Complaint).where(Complaint.item_key == item_key)
    return list(session.scalars(stmt.order_by(Complaint.filed_at, Complaint.id)))


def file_complaint(writer: LogWriter, actor: Actor, *, kind: str, item_key: str, merchant_id: str,
                   complainant_id: str, category: str, text: str, now: datetime,
                   claim_fen: int | None = None) -> Complaint:
    """File a complaint or report about ``item_key`` sold by ``merchant_id``; start its clock.

    The text goes into the ledger: web must keep personal data out of it.

    :raises Forbidden: unless a consumer, the platform or an administrator files.
    :raises InvalidInput: for an unknown kind, an empty or long text or a bad claim.
    :raises NotFound: when the merchant is not a credit subject.
    """
    now = aware(now)
    require_role(actor, _FILERS, "file complaints")
    if kind not in KINDS or not text.strip() or len(text) > _MAX_TEXT or not item_key:
        raise InvalidInput(f"a {kind!r} needs a kind in {KINDS}, an item key and 1 to "
                           f"{_MAX_TEXT} characters of text")
    if claim_fen is not None and claim_fen <= 0:
        raise InvalidInput(f"claim must be a positive amount in fen, got {claim_fen}")
    get_subject(writer.session, merchant_id)
    complaint_id = new_id()
    write(writer, actor, now, apply_complaints, [("credit.complaint_filed", _key(complaint_id), {
        "id": complaint_id, "kind": kind, "item_key": item_key, "merchant_id": merchant_id,
        "complainant_id": complainant_id, "category": category, "text": text,
        "answer_due": ts(now + rules.ANSWER_PERIOD),
        "decision_due": ts(now + rules.DECISION_PERIOD),
        "claim_fen": claim_fen, "rules": rules.RULES_VERSION,
    })])
    return get_complaint(writer.session, complaint_id)


def answer_complaint(writer: LogWriter, actor: Actor, complaint_id: str, text: str, *,
                     now: datetime) -> Complaint:
    """Record the merchant's answer, before the answer deadline.

    :raises Forbidden: unless the merchant's side answers.
    :raises Conflict: when the case is not open or the deadline has passed.
    """
    now = aware(now)
    require_role(actor, _ANSWERERS, "answer complaints")
    complaint = get_complaint(writer.session, complaint_id)
    if complaint.status != "open":
        raise Conflict(f"complaint {complaint_id} is {complaint.status}")
    if now > rules.utc(complaint.answer_due):
        raise Conflict(f"the answer to complaint {complaint_id} was due "
                       f"{rules.utc(complaint.answer_due).isoformat()}")
    write(writer, actor, now, apply_complaints, [("credit.complaint_answered", _key(complaint_id),
          {"id": complaint_id, "text": text})])
    return complaint


def decide_complaint(writer: LogWriter, actor: Actor, complaint_id: str, outcome: str, reason: str,
                     *, now: datetime, severity: str | None = None) -> Complaint:
    """Decide a case: the platform before the decision deadline, the regulator once escalated.

    ``upheld`` creates a negative credit record of the merchant referring to the case.

    :raises InvalidInput: for an unknown outcome or severity.
    :raises Forbidden: when the actor is not the one who decides at this stage.
    :raises Conflict: when the case is decided, or the platform's deadline has passed.
    """
    now = aware(now)
    if outcome not in OUTCOMES or (severity is not None and severity not in rules.SEVERITIES):
        raise InvalidInput(f"outcome must be one of {OUTCOMES}, severity one of {rules.SEVERITIES}")
    complaint = get_complaint(writer.session, complaint_id)
    if complaint.status == "decided":
        raise Conflict(f"complaint {complaint_id} is decided already")
    if complaint.status == "escalated":
        if actor.role not in _REGULATOR:
            raise Forbidden(f"complaint {complaint_id} was escalated: the regulator decides")
    else:
        require_role(actor, _PLATFORM, "decide complaints")
        if now > rules.utc(complaint.decision_due):
            raise Conflict(f"the platform's decision on {complaint_id} was due "
                           f"{rules.utc(complaint.decision_due).isoformat()}: "
                           "it goes to the regulator")
    record_id = None
    if outcome == "upheld":
        record = add_record(
            writer, actor, complaint.merchant_id, polarity="negative",
            source="regulator" if actor.role == "inspector" else "consumer_complaint",
            basis=reason, facts=f"{complaint.kind} {complaint_id} about {complaint.item_key}",
            severity=severity or rules.COMPLAINT_SEVERITY[complaint.kind], decided_at=now, now=now,
            complaint_id=complaint_id)
        record_id = record.id
    write(writer, actor, now, apply_complaints, [("credit.complaint_decided", _key(complaint_id),
          {"id": complaint_id, "outcome": outcome, "reason": reason, "record_id": record_id})])
    return complaint


def escalate_overdue(writer: LogWriter, now: datetime) -> list[Complaint]:
    """Escalate to the regulator every case whose answer or decision deadline has passed.

    Returns the escalated cases (both lookups use the (status, due) indexes).
    """
    now = aware(now)
    stmt = select(Complaint).where(or_(
        (Complaint.status == "open") & (Complaint.answer_due < now),
        (Complaint.status.in_(("open", "answered"))) & (Complaint.decision_due < now),
    )).order_by(Complaint.filed_at, Complaint.id)
    overdue = list(writer.session.scalars(stmt))
    for complaint in overdue:
        reason = "answer_overdue" if complaint.status == "open" else "decision_overdue"
        write(writer, SYSTEM, now, apply_complaints, [("credit.complaint_escalated",
              _key(complaint.id), {"id": complaint.id, "reason": reason, "to": "regulator"})])
    return overdue
