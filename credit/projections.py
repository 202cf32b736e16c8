"""How credit entries become rows: one ``apply`` per projection, used by services and replay.

Each projection reads and writes only its own tables and takes every value from the
entry (its body, time, actor and index): the services decide (points, periods, end
dates, grades) and write the decision into the entry, so re-applying the entries in
index order rebuilds identical rows.  Registration order is dependency order: replay
empties the tables in reverse.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import Session

from credit._entries import parse_ts
from credit.models import (Commitment, Complaint, FundClaim, FundMovement, Grade, GradeChange,
                           Licence, ListEntry, PartyPoints, Rating, RatingFollowup, Record,
                           Repair, Subject)
from ledger.replay import Projection, ReplayedEntry, register

__all__ = ["apply_subjects", "apply_records", "apply_ratings", "apply_grades", "apply_lists",
           "apply_complaints", "apply_fund"]

_Handler = Callable[[Session, ReplayedEntry, Mapping[str, Any]], None]


def _when(entry: ReplayedEntry) -> datetime:
    time = parse_ts(entry.envelope["time"])
    assert time is not None
    return time


def _d(body: Mapping[str, Any], key: str) -> datetime:
    value = parse_ts(body[key])
    assert value is not None, key
    return value


def _get(session: Session, model: type[Any], key: str) -> Any:
    row = session.get(model, key)
    assert row is not None, f"{model.__tablename__} {key} missing: entries out of order"
    return row


def _run(session: Session, entries: Sequence[ReplayedEntry],
         handlers: Mapping[str, _Handler]) -> None:
    for entry in entries:
        handler = handlers.get(entry.envelope["kind"])
        if handler is not None:
            handler(session, entry, entry.envelope["body"])
    session.flush()  # within the batch, autoflush lets later entries read earlier rows


# ---------------------------------------------------------------- subjects


def _registered(s: Session, e: ReplayedEntry, b: Mapping[str, Any]) -> None:
    s.add(Subject(id=b["id"], kind=b["kind"], name=b["name"], uscc=b["uscc"], status=b["status"],
                  uscc_problem=b["uscc_problem"], registered_at=_when(e),
                  registered_by=e.envelope["actor"], realname_commitment=b["realname_commitment"],
                  pii_erased=False))


def _resolved(s: Session, e: ReplayedEntry, b: Mapping[str, Any]) -> None:
    _get(s, Subject, b["id"]).status = "active" if b["accepted"] else "rejected"


def _verified(s: Session, e: ReplayedEntry, b: Mapping[str, Any]) -> None:
    row = _get(s, Subject, b["id"])
    row.verified_at, row.verified_by = _when(e), e.envelope["actor"]
    row.verification_method, row.verification_due = b["method"], _d(b, "due")


def _erased(s: Session, e: ReplayedEntry, b: Mapping[str, Any]) -> None:
    row = _get(s, Subject, b["id"])
    row.pii_erased, row.status = True, "closed"


def _licence(s: Session, e: ReplayedEntry, b: Mapping[str, Any]) -> None:
    s.add(Licence(id=b["id"], subject_id=b["subject_id"], licence_type=b["licence_type"],
                  number=b["number"], issuer=b["issuer"], valid_from=_d(b, "valid_from"),
                  valid_until=_d(b, "valid_until"), status="valid", added_at=_when(e), xk=b["xk"]))


def _licence_revoked(s: Session, e: ReplayedEntry, b: Mapping[str, Any]) -> None:
    row = _get(s, Licence, b["id"])
    row.status, row.revoked_at = "revoked", _when(e)


def _commitment(s: Session, e: ReplayedEntry, b: Mapping[str, Any]) -> None:
    s.add(Commitment(id=b["id"], subject_id=b["subject_id"], template_version=b["template"],
                     commitment_type=b["type"], text_sha256=b["text_sha256"], made_at=_when(e),
                     made_by=e.envelope["actor"], valid_until=parse_ts(b["valid_until"]),
                     status="active"))


def _breached(s: Session, e: ReplayedEntry, b: Mapping[str, Any]) -> None:
    row = _get(s, Commitment, b["id"])
    row.status, row.breached_at, row.breach_record_id = "breached", _when(e), b["record_id"]


_SUBJECTS: dict[str, _Handler] = {
    "credit.subject_registered": _registered, "credit.verification_resolved": _resolved,
    "credit.identity_verified": _verified, "credit.pii_erased": _erased,
    "credit.licence_added": _licence, "credit.licence_revoked": _licence_revoked,
    "credit.commitment_made": _commitment, "credit.commitment_breached": _breached,
}


def apply_subjects(session: Session, entries: Sequence[ReplayedEntry]) -> None:
    """Project subject, identity, licence and commitment entries."""
    _run(session, entries, _SUBJECTS)


# ---------------------------------------------------------------- records and repairs


def _record(s: Session, e: ReplayedEntry, b: Mapping[str, Any]) -> None:
    s.add(Record(id=b["id"], subject_id=b["subject_id"], polarity=b["polarity"], source=b["source"],
                 severity=b["severity"], basis=b["basis"], facts=b["facts"],
                 authority=b["authority"], decision_no=b["decision_no"],
                 decided_at=_d(b, "decided_at"), public=b["public"], start=_d(b, "start"),
                 earliest_repair=_d(b, "earliest_repair"), end=_d(b, "end"), status="active",
                 commitment_id=b["commitment_id"], complaint_id=b["complaint_id"],
                 external_key=b["external_key"], cf=b["cf"], recorded_by=e.envelope["actor"],
                 rules_version=b["rules"]))


def _withdrawn(s: Session, e: ReplayedEntry, b: Mapping[str, Any]) -> None:
    row = _get(s, Record, b["id"])
    row.status, row.closed_at = "withdrawn", _when(e)


def _repair(s: Session, e: ReplayedEntry, b: Mapping[str, Any]) -> None:
    s.add(Repair(id=b["id"], record_id=b["record_id"], applied_at=_when(e),
                 applied_by=e.envelope["actor"], evidence=list(b["evidence"]), status="pending"))


def _repair_decided(s: Session, e: ReplayedEntry, b: Mapping[str, Any]) -> None:
    repair = _get(s, Repair, b["id"])
    repair.status = "approved" if b["approved"] else "rejected"
    repair.decided_at, repair.decided_by, repair.reason = _when(e), e.envelope["actor"], b["reason"]
    if b["approved"]:
        record = _get(s, Record, b["record_id"])
        record.status, record.closed_at = "repaired", _when(e)


_RECORDS: dict[str, _Handler] = {
    "credit.record_added": _record, "credit.record_withdrawn": _withdrawn,
    "credit.repair_applied": _repair, "credit.repair_decided": _repair_decided,
}


def apply_records(session: Session, entries: Sequence[ReplayedEntry]) -> None:
    """Project credit records and their repairs."""
    _run(session, entries, _RECORDS)


# ---------------------------------------------------------------- ratings and points


def _rating(s: Session, e: ReplayedEntry, b: Mapping[str, Any]) -> None:
    s.add(Rating(id=b["id"], order_id=b["order_id"], item_key=b["item_key"], rater_id=b["rater_id"],
                 ratee_id=b["ratee_id"], direction=b["direction"], value=b["value"], dsr=b["dsr"],
                 text=b["text"], created_at=_when(e), points=b["points"], counted=b["counted"],
                 not_counted=b["not_counted"], rules_version=b["rules"]))
    if not b["counted"]:
        return
    points = s.get(PartyPoints, b["ratee_id"])
    if points is None:
        points = PartyPoints(party_id=b["ratee_id"], points=0, good=0, neutral=0, bad=0)
        s.add(points)
    points.points += b["points"]
    setattr(points, b["value"], getattr(points, b["value"]) + 1)


def _followup(s: Session, e: ReplayedEntry, b: Mapping[str, Any]) -> None:
    s.add(RatingFollowup(id=b["id"], rating_id=b["rating_id"], text=b["text"], created_at=_when(e)))


def apply_ratings(session: Session, entries: Sequence[ReplayedEntry]) -> None:
    """Project ratings, follow-ups and the points totals."""
    _run(session, entries, {"credit.rating": _rating, "credit.rating_followup": _followup})


# ---------------------------------------------------------------- grades


def _grade(s: Session, e: ReplayedEntry, b: Mapping[str, Any]) -> None:
    row = s.get(Grade, b["subject_id"])
    if row is None:
        row = Grade(subject_id=b["subject_id"])
        s.add(row)
    row.grade, row.score, row.computed_at = b["grade"], b["score"], _when(e)
    row.contributions, row.rules_version, row.entry_index = b["contributions"], b["rules"], e.index
    s.add(GradeChange(entry_index=e.index, subject_id=b["subject_id"], previous=b["previous"],
                      grade=b["grade"], score=b["score"], at=_when(e)))


def apply_grades(session: Session, entries: Sequence[ReplayedEntry]) -> None:
    """Project grade changes into the current grade and the grade history."""
    _run(session, entries, {"credit.grade_changed": _grade})


# ---------------------------------------------------------------- red and black lists


def _proposed(s: Session, e: ReplayedEntry, b: Mapping[str, Any]) -> None:
    s.add(ListEntry(id=b["id"], subject_id=b["subject_id"], list_kind=b["list"], status="proposed",
                    reason=b["reason"], basis=b["basis"], trigger=b["trigger"],
                    proposed_at=_when(e), proposed_by=e.envelope["actor"],
                    rules_version=b["rules"]))


def _decided(s: Session, e: ReplayedEntry, b: Mapping[str, Any]) -> None:
    row = _get(s, ListEntry, b["id"])
    row.status = "active" if b["approved"] else "rejected"
    row.decided_at, row.decided_by, row.decision_note = _when(e), e.envelope["actor"], b["note"]
    if b["approved"]:
        row.start, row.earliest_removal = _d(b, "start"), _d(b, "earliest_removal")
        row.auto_end = _d(b, "auto_end")


def _removed(s: Session, e: ReplayedEntry, b: Mapping[str, Any]) -> None:
    row = _get(s, ListEntry, b["id"])
    row.status, row.removed_at, row.removal_reason = "removed", _when(e), b["reason"]


def apply_lists(session: Session, entries: Sequence[ReplayedEntry]) -> None:
    """Project list proposals, decisions and removals."""
    _run(session, entries, {"credit.list_proposed": _proposed, "credit.list_decided": _decided,
                            "credit.list_removed": _removed})


# ---------------------------------------------------------------- complaints


def _filed(s: Session, e: ReplayedEntry, b: Mapping[str, Any]) -> None:
    s.add(Complaint(id=b["id"], kind=b["kind"], item_key=b["item_key"],
                    merchant_id=b["merchant_id"], complainant_id=b["complainant_id"],
                    category=b["category"], text=b["text"],
                    filed_at=_when(e), answer_due=_d(b, "answer_due"),
                    decision_due=_d(b, "decision_due"), status="open", claim_fen=b["claim_fen"]))


def _answered(s: Session, e: ReplayedEntry, b: Mapping[str, Any]) -> None:
    row = _get(s, Complaint, b["id"])
    row.status, row.answered_at, row.answer = "answered", _when(e), b["text"]


def _escalated(s: Session, e: ReplayedEntry, b: Mapping[str, Any]) -> None:
    row = _get(s, Complaint, b["id"])
    row.status, row.escalated_at, row.escalation_reason = "escalated", _when(e), b["reason"]


def _complaint_decided(s: Session, e: ReplayedEntry, b: Mapping[str, Any]) -> None:
    row = _get(s, Complaint, b["id"])
    row.status, row.decided_at, row.decided_by = "decided", _when(e), e.envelope["actor"]
    row.outcome, row.decision_reason, row.record_id = b["outcome"], b["reason"], b["record_id"]


def apply_complaints(session: Session, entries: Sequence[ReplayedEntry]) -> None:
    """Project complaints and reports through their states."""
    _run(session, entries, {
        "credit.complaint_filed": _filed, "credit.complaint_answered": _answered,
        "credit.complaint_escalated": _escalated, "credit.complaint_decided": _complaint_decided,
    })


# ---------------------------------------------------------------- fund


def _movement(s: Session, e: ReplayedEntry, b: Mapping[str, Any], kind: str, sign: int) -> None:
    s.add(FundMovement(id=b["id"], fund_id=b["fund_id"], kind=kind,
                       amount_fen=sign * b["amount_fen"], claim_id=b.get("claim_id"),
                       at=_when(e), entry_index=e.index))


def _deposit(s: Session, e: ReplayedEntry, b: Mapping[str, Any]) -> None:
    _movement(s, e, b, "deposit", 1)


def _claim(s: Session, e: ReplayedEntry, b: Mapping[str, Any]) -> None:
    s.add(FundClaim(id=b["id"], fund_id=b["fund_id"], complaint_id=b["complaint_id"],
                    consumer_id=b["consumer_id"], merchant_id=b["merchant_id"],
                    amount_fen=b["amount_fen"], paid_fen=0, recovered_fen=0, status="open",
                    opened_at=_when(e)))


def _payout(s: Session, e: ReplayedEntry, b: Mapping[str, Any]) -> None:
    _movement(s, e, b, "payout", -1)
    claim = _get(s, FundClaim, b["claim_id"])
    claim.paid_fen, claim.status, claim.paid_at = b["amount_fen"], "paid", _when(e)


def _recovery(s: Session, e: ReplayedEntry, b: Mapping[str, Any]) -> None:
    _movement(s, e, b, "recovery", 1)
    claim = _get(s, FundClaim, b["claim_id"])
    claim.recovered_fen += b["amount_fen"]
    if claim.recovered_fen >= claim.paid_fen:
        claim.status = "recovered"


def apply_fund(session: Session, entries: Sequence[ReplayedEntry]) -> None:
    """Project fund deposits, claims, payouts and recoveries."""
    _run(session, entries, {"credit.fund_deposit": _deposit, "credit.fund_claim_opened": _claim,
                            "credit.fund_payout": _payout, "credit.fund_recovery": _recovery})


def _tables(*models: type[Any]) -> list[Table]:
    return [m.__table__ for m in models]


# Dependency order (replay empties tables in reverse): foreign keys point backwards only.
for _projection in (
    Projection("credit.subjects", _tables(Subject, Licence, Commitment), apply_subjects),
    Projection("credit.records", _tables(Record, Repair), apply_records),
    Projection("credit.ratings", _tables(Rating, RatingFollowup, PartyPoints), apply_ratings),
    Projection("credit.grades", _tables(Grade, GradeChange), apply_grades),
    Projection("credit.lists", _tables(ListEntry), apply_lists),
    Projection("credit.complaints", _tables(Complaint), apply_complaints),
    Projection("credit.fund", _tables(FundClaim, FundMovement), apply_fund),
):
    register(_projection)
