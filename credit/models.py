"""Tables of the credit package (all prefixed ``credit_``).

Projections of ledger entries, rebuilt by ``flask ledger replay`` (credit/projections.py):
``credit_subjects``, ``credit_licences``, ``credit_commitments``, ``credit_records``,
``credit_repairs``, ``credit_ratings``, ``credit_rating_followups``, ``credit_points``,
``credit_grades``, ``credit_grade_changes``, ``credit_list_entries``,
``credit_complaints``, ``credit_fund_claims``, ``credit_fund_movements``.

Off the ledger, never replayed: ``credit_pii_keys`` and ``credit_pii_data``, the
encrypted real-name details and their per-subject keys (credit/pii.py).  Deleting a
key row erases the details (crypto-shredding) without touching any ledger hash; keep
that table out of long-lived backups.

Times are stored in UTC (``credit.rules.utc``).  Foreign keys only point to tables of
the same or an earlier projection, so that replay can re-apply entries chunk by chunk.
Every lookup the services make has an index (eligibility: < 20 ms at a million rows).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (JSON, BigInteger, Boolean, DateTime, ForeignKey, Index, Integer,
                        LargeBinary, String, Text, UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column

from ledger.base import Base

__all__ = [
    "Subject", "Licence", "Commitment", "Record", "Repair", "Rating", "RatingFollowup",
    "PartyPoints", "Grade", "GradeChange", "ListEntry", "Complaint", "FundClaim",
    "FundMovement", "PiiKey", "PiiData",
]

_ID = 32  # ids are 16 hex characters; room to spare
_PARTY = 200  # actor/party ids (ledger.actor.Actor.id is at most 200)
_TS = DateTime(timezone=True)


class Subject(Base):
    """A credit subject (信用主体): organisation by USCC or individual by real name."""

    __tablename__ = "credit_subjects"

    id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    name: Mapped[str] = mapped_column(String(200))
    uscc: Mapped[str | None] = mapped_column(String(18), unique=True)
    # active | pending_verification | rejected | closed
    status: Mapped[str] = mapped_column(String(24))
    uscc_problem: Mapped[str | None] = mapped_column(String(32))
    registered_at: Mapped[datetime] = mapped_column(_TS)
    registered_by: Mapped[str] = mapped_column(String(_PARTY))
    # Salted SHA-256 commitment to the real-name details (hex); the details are off-ledger.
    realname_commitment: Mapped[str | None] = mapped_column(String(64))
    verified_at: Mapped[datetime | None] = mapped_column(_TS)
    verified_by: Mapped[str | None] = mapped_column(String(_PARTY))
    verification_method: Mapped[str | None] = mapped_column(String(64))
    verification_due: Mapped[datetime | None] = mapped_column(_TS)
    pii_erased: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (Index("ix_credit_subjects_status_kind", "status", "kind"),)


class Licence(Base):
    """An administrative licence (行政许可) for a product category, with its validity."""

    __tablename__ = "credit_licences"

    id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("credit_subjects.id"))
    licence_type: Mapped[str] = mapped_column(String(40))
    number: Mapped[str] = mapped_column(String(100))
    issuer: Mapped[str] = mapped_column(String(200))
    valid_from: Mapped[datetime] = mapped_column(_TS)
    valid_until: Mapped[datetime] = mapped_column(_TS)
    status: Mapped[str] = mapped_column(String(16))  # valid | revoked
    added_at: Mapped[datetime] = mapped_column(_TS)
    revoked_at: Mapped[datetime | None] = mapped_column(_TS)
    # The 双公示 XK_ fields it was imported from (exported back unchanged).
    xk: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (
        UniqueConstraint("licence_type", "number", name="uq_credit_licences_type_number"),
        Index("ix_credit_licences_lookup", "subject_id", "licence_type", "valid_until"),
    )


class Commitment(Base):
    """A public credit commitment (信用承诺) in the standard template."""

    __tablename__ = "credit_commitments"

    id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("credit_subjects.id"))
    template_version: Mapped[str] = mapped_column(String(40))
    commitment_type: Mapped[str] = mapped_column(String(24))
    text_sha256: Mapped[str] = mapped_column(String(64))
    made_at: Mapped[datetime] = mapped_column(_TS)
    made_by: Mapped[str] = mapped_column(String(_PARTY))
    valid_until: Mapped[datetime | None] = mapped_column(_TS)
    status: Mapped[str] = mapped_column(String(16))  # active | breached
    breached_at: Mapped[datetime | None] = mapped_column(_TS)
    breach_record_id: Mapped[str | None] = mapped_column(String(_ID))  # later projection: no FK

    __table_args__ = (Index("ix_credit_commitments_lookup", "subject_id", "status"),)


class Record(Base):
    """A credit record (信用档案 entry), positive or negative, with its publication window."""

    __tablename__ = "credit_records"

    id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("credit_subjects.id"))
    polarity: Mapped[str] = mapped_column(String(8))  # negative | positive
    source: Mapped[str] = mapped_column(String(24))
    severity: Mapped[str | None] = mapped_column(String(8))  # minor | general | serious
    basis: Mapped[str] = mapped_column(Text)
    facts: Mapped[str] = mapped_column(Text)
    authority: Mapped[str] = mapped_column(String(200))
    decision_no: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime] = mapped_column(_TS)
    public: Mapped[bool] = mapped_column(Boolean)
    start: Mapped[datetime] = mapped_column(_TS)
    earliest_repair: Mapped[datetime] = mapped_column(_TS)
    end: Mapped[datetime] = mapped_column(_TS)
    status: Mapped[str] = mapped_column(String(16))  # active | repaired | withdrawn
    closed_at: Mapped[datetime | None] = mapped_column(_TS)
    commitment_id: Mapped[str | None] = mapped_column(ForeignKey("credit_commitments.id"))
    complaint_id: Mapped[str | None] = mapped_column(String(_ID))  # later projection: no FK
    external_key: Mapped[str | None] = mapped_column(String(320), unique=True)
    cf: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # 双公示 CF_ fields, if imported
    recorded_by: Mapped[str] = mapped_column(String(_PARTY))
    rules_version: Mapped[str] = mapped_column(String(40))

    __table_args__ = (
        Index("ix_credit_records_subject", "subject_id", "status", "end"),
        Index("ix_credit_records_severity", "severity", "status", "end"),
        Index("ix_credit_records_source", "source", "status", "end"),  # 双公示 export
    )


class Repair(Base):
    """A credit repair (信用修复) application for one record, and its decision."""

    __tablename__ = "credit_repairs"

    id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    record_id: Mapped[str] = mapped_column(ForeignKey("credit_records.id"))
    applied_at: Mapped[datetime] = mapped_column(_TS)
    applied_by: Mapped[str] = mapped_column(String(_PARTY))
    evidence: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))  # pending | approved | rejected
    decided_at: Mapped[datetime | None] = mapped_column(_TS)
    decided_by: Mapped[str | None] = mapped_column(String(_PARTY))
    reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_credit_repairs_record", "record_id", "status"),)


class Rating(Base):
    """A rating after a signed delivery, and how many points it moved (anti-gaming)."""

    __tablename__ = "credit_ratings"

    id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(100))
    item_key: Mapped[str] = mapped_column(String(200))
    rater_id: Mapped[str] = mapped_column(String(_PARTY))
    ratee_id: Mapped[str] = mapped_column(String(_PARTY))
    direction: Mapped[str] = mapped_column(String(24))
    value: Mapped[str] = mapped_column(String(8))  # good | neutral | bad
    dsr: Mapped[dict[str, int] | None] = mapped_column(JSON)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(_TS)
    points: Mapped[int] = mapped_column(Integer)
    counted: Mapped[bool] = mapped_column(Boolean)
    not_counted: Mapped[str | None] = mapped_column(String(24))
    rules_version: Mapped[str] = mapped_column(String(40))

    __table_args__ = (
        UniqueConstraint("order_id", "rater_id", "ratee_id", name="uq_credit_ratings_order_pair"),
        Index("ix_credit_ratings_pair", "rater_id", "ratee_id", "created_at"),
        Index("ix_credit_ratings_ratee", "ratee_id", "created_at"),
    )


class RatingFollowup(Base):
    """The one follow-up review (追评) of a rating; the rating itself is never edited."""

    __tablename__ = "credit_rating_followups"

    id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    rating_id: Mapped[str] = mapped_column(ForeignKey("credit_ratings.id"), unique=True)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(_TS)


class PartyPoints(Base):
    """Credit points of a party: the sum of the points its counted ratings moved."""

    __tablename__ = "credit_points"

    party_id: Mapped[str] = mapped_column(String(_PARTY), primary_key=True)
    points: Mapped[int] = mapped_column(Integer)
    good: Mapped[int] = mapped_column(Integer)
    neutral: Mapped[int] = mapped_column(Integer)
    bad: Mapped[int] = mapped_column(Integer)


class Grade(Base):
    """The current grade of a subject, as its last ``credit.grade_changed`` entry set it."""

    __tablename__ = "credit_grades"

    subject_id: Mapped[str] = mapped_column(ForeignKey("credit_subjects.id"), primary_key=True)
    grade: Mapped[str] = mapped_column(String(1))
    score: Mapped[int] = mapped_column(Integer)
    computed_at: Mapped[datetime] = mapped_column(_TS)
    contributions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    rules_version: Mapped[str] = mapped_column(String(40))
    entry_index: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_credit_grades_grade", "grade"),)


class GradeChange(Base):
    """One grade change, keyed by the index of its ledger entry."""

    __tablename__ = "credit_grade_changes"

    entry_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    subject_id: Mapped[str] = mapped_column(ForeignKey("credit_subjects.id"))
    previous: Mapped[str | None] = mapped_column(String(1))
    grade: Mapped[str] = mapped_column(String(1))
    score: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(_TS)

    __table_args__ = (Index("ix_credit_grade_changes_subject", "subject_id", "at"),)


class ListEntry(Base):
    """A red (守信红名单) or black (失信黑名单) list proposal and its decision."""

    __tablename__ = "credit_list_entries"

    id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("credit_subjects.id"))
    list_kind: Mapped[str] = mapped_column(String(8))  # red | black
    status: Mapped[str] = mapped_column(String(16))  # proposed | active | rejected | removed
    reason: Mapped[str] = mapped_column(Text)
    basis: Mapped[str] = mapped_column(Text)
    trigger: Mapped[dict[str, Any]] = mapped_column(JSON)
    proposed_at: Mapped[datetime] = mapped_column(_TS)
    proposed_by: Mapped[str] = mapped_column(String(_PARTY))
    decided_at: Mapped[datetime | None] = mapped_column(_TS)
    decided_by: Mapped[str | None] = mapped_column(String(_PARTY))
    decision_note: Mapped[str | None] = mapped_column(Text)
    start: Mapped[datetime | None] = mapped_column(_TS)
    earliest_removal: Mapped[datetime | None] = mapped_column(_TS)
    auto_end: Mapped[datetime | None] = mapped_column(_TS)
    removed_at: Mapped[datetime | None] = mapped_column(_TS)
    removal_reason: Mapped[str | None] = mapped_column(Text)
    rules_version: Mapped[str] = mapped_column(String(40))

    __table_args__ = (
        # auto_end too, so that SQLite prefers this index even without ANALYZE statistics
        # (bench/credit_bench.py: p99 250 ms -> 6 ms at a million subjects).
        Index("ix_credit_list_entries_lookup", "subject_id", "list_kind", "status", "auto_end"),
        Index("ix_credit_list_entries_kind", "list_kind", "status", "auto_end"),
    )


class Complaint(Base):
    """A complaint (投诉) or report (举报) about an item, with its deadline clock."""

    __tablename__ = "credit_complaints"

    id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))  # complaint | report
    item_key: Mapped[str] = mapped_column(String(200))
    merchant_id: Mapped[str] = mapped_column(ForeignKey("credit_subjects.id"))
    complainant_id: Mapped[str] = mapped_column(String(_PARTY))
    category: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    filed_at: Mapped[datetime] = mapped_column(_TS)
    answer_due: Mapped[datetime] = mapped_column(_TS)
    decision_due: Mapped[datetime] = mapped_column(_TS)
    # open | answered | escalated | decided
    status: Mapped[str] = mapped_column(String(16))
    answered_at: Mapped[datetime | None] = mapped_column(_TS)
    answer: Mapped[str | None] = mapped_column(Text)
    escalated_at: Mapped[datetime | None] = mapped_column(_TS)
    escalation_reason: Mapped[str | None] = mapped_column(String(24))
    decided_at: Mapped[datetime | None] = mapped_column(_TS)
    decided_by: Mapped[str | None] = mapped_column(String(_PARTY))
    outcome: Mapped[str | None] = mapped_column(String(12))  # upheld | rejected
    decision_reason: Mapped[str | None] = mapped_column(Text)
    record_id: Mapped[str | None] = mapped_column(String(_ID))
    claim_fen: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        Index("ix_credit_complaints_answer_due", "status", "answer_due"),
        Index("ix_credit_complaints_decision_due", "status", "decision_due"),
        Index("ix_credit_complaints_merchant", "merchant_id", "filed_at"),
        Index("ix_credit_complaints_item", "item_key"),
    )


class FundClaim(Base):
    """An advance-compensation (先行赔付) claim on a platform's fund, tied to a complaint."""

    __tablename__ = "credit_fund_claims"

    id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    fund_id: Mapped[str] = mapped_column(ForeignKey("credit_subjects.id"))
    complaint_id: Mapped[str] = mapped_column(ForeignKey("credit_complaints.id"), unique=True)
    consumer_id: Mapped[str] = mapped_column(String(_PARTY))
    merchant_id: Mapped[str] = mapped_column(String(_ID))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    paid_fen: Mapped[int] = mapped_column(BigInteger)
    recovered_fen: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(12))  # open | paid | recovered
    opened_at: Mapped[datetime] = mapped_column(_TS)
    paid_at: Mapped[datetime | None] = mapped_column(_TS)

    __table_args__ = (Index("ix_credit_fund_claims_fund", "fund_id", "status"),)


class FundMovement(Base):
    """One movement of a fund in fen (分): deposit and recovery add, payout subtracts."""

    __tablename__ = "credit_fund_movements"

    id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    fund_id: Mapped[str] = mapped_column(ForeignKey("credit_subjects.id"))
    kind: Mapped[str] = mapped_column(String(12))  # deposit | payout | recovery
    amount_fen: Mapped[int] = mapped_column(BigInteger)  # signed
    claim_id: Mapped[str | None] = mapped_column(ForeignKey("credit_fund_claims.id"))
    at: Mapped[datetime] = mapped_column(_TS)
    entry_index: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_credit_fund_movements_fund", "fund_id", "at"),)


class PiiKey(Base):
    """The per-subject data key, wrapped (RFC 3394) by a key derived from MASTER_KEY.

    Off-ledger and never replayed; deleting the row erases the subject's details.
    """

    __tablename__ = "credit_pii_keys"

    subject_id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary(40))
    created_at: Mapped[datetime] = mapped_column(_TS)


class PiiData(Base):
    """Real-name details and their salt, AES-256-GCM encrypted under the subject's key."""

    __tablename__ = "credit_pii_data"

    subject_id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    nonce: Mapped[bytes] = mapped_column(LargeBinary(12))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    # Keyed hash (HMAC-SHA256) of the ID number, to refuse a person registering twice.
    blind_index: Mapped[str] = mapped_column(String(64), unique=True)


# Register the replay projections whenever the tables are known (web/models.py imports
# this module); credit.projections imports only the classes defined above.
import credit.projections  # noqa: E402,F401
