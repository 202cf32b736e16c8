"""Credit subjects: registration, real-name verification, licences and credit commitments.

Every write takes the caller's ``LogWriter`` (``ledger.sequencer.write_transaction``), so
web can compose several writes in one transaction; every time is an input (``now``).
Records and repairs are in credit/records.py, ratings in credit/ratings.py, the score in
credit/scoring.py, lists in credit/lists.py, complaints in credit/complaints.py, the fund
in credit/fund.py, eligibility and disclosure in their own modules.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

import rfc8785
from sqlalchemy import select
from sqlalchemy.orm import Session

from credit import pii, rules
from credit._entries import aware, new_id, require_role, subject_key, ts, write
from credit.errors import BadUSCC, Conflict, Duplicate, InvalidInput, NotFound
from credit.identifiers import compact_uscc, validate_uscc
from credit.models import Commitment, Licence, Subject
from credit.projections import apply_subjects
from ledger.actor import Actor
from ledger.sequencer import LogWriter

__all__ = [
    "register_subject", "resolve_verification", "verify_identity", "identity_status",
    "reveal_real_name", "erase_personal_data", "add_licence", "revoke_licence", "valid_licences",
    "commitment_text", "make_commitment", "active_commitment", "get_subject", "find_by_uscc",
]

# Who may register which kind of subject (a party registers itself, or the platform /
# an administrator registers it).
_REGISTRARS: dict[str, frozenset[str]] = {
    "platform": frozenset({"admin"}),
    "merchant": frozenset({"admin", "platform", "merchant"}),
    "individual_seller": frozenset({"admin", "platform", "merchant"}),
    "producer": frozenset({"admin", "platform", "producer"}),
    "logistics": frozenset({"admin", "platform", "logistics"}),
    "courier": frozenset({"admin", "platform", "logistics", "courier"}),
    "inspection_body": frozenset({"admin", "inspector"}),
    "credit_agency": frozenset({"admin"}),
}
_VERIFIERS = frozenset({"platform", "inspector", "admin"})  # 电子商务法 Art 27: the platform
_RESOLVERS = frozenset({"inspector", "admin"})
_LICENCE_KEEPERS = frozenset({"platform", "inspector", "admin"})
_COMMITTERS = frozenset({"merchant", "producer", "logistics", "courier", "platform", "admin"})


def get_subject(session: Session, subject_id: str) -> Subject:
    """Return the subject with ``subject_id``.

    :raises NotFound: when there is none.
    """
    row = session.get(Subject, subject_id)
    if row is None:
        raise NotFound(f"no credit subject {subject_id!r}")
    return row


def find_by_uscc(session: Session, uscc: str) -> Subject:
    """Return the subject registered under the 统一社会信用代码 ``uscc`` (one index lookup).

    :raises NotFound: when there is none.
    """
    code = compact_uscc(uscc)
    row = session.scalar(select(Subject).where(Subject.uscc == code))
    if row is None:
        raise NotFound(f"no credit subject with 统一社会信用代码 {code!r}")
    return row


def register_subject(writer: LogWriter, actor: Actor, kind: str, name: str,
                     uscc: str | None = None, real_name: pii.RealName | None = None,
                     attest: bool = False, *, now: datetime,
                     master_key: bytes | None = None) -> Subject:
    """Register a credit subject: an organisation by USCC, an individual by real name.

    A USCC failing a GB 32100 check is refused, unless ``attest`` (the registrant
    attests it is real) and it is well formed: the subject is then held with status
    ``pending_verification`` until ``resolve_verification``.  Real-name details are
    encrypted off-ledger with ``master_key``; the entry holds their salted commitment.

    :raises InvalidInput: for an unknown kind, a bad name or a missing identifier.
    :raises Forbidden: when the actor's role may not register this kind.
    :raises BadUSCC: when the code fails and cannot be (or is not) attested.
    :raises BadRealName: when the real-name details are malformed.
    :raises Duplicate: when the USCC or the person is registered already.
    """
    now = aware(now)
    if kind not in rules.SUBJECT_KINDS:
        raise InvalidInput(
            f"unknown subject kind {kind!r} (one of {', '.join(rules.SUBJECT_KINDS)})")
    require_role(actor, _REGISTRARS[kind], f"register a {kind}")
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInput(f"name must be 1 to 200 characters, got {name!r}")
    subject_id, code, problem, status, commitment = new_id(), None, None, "active", None
    if kind in rules.ORGANISATION_KINDS:
        if uscc is None or real_name is not None:
            raise InvalidInput(f"a {kind} registers with its 统一社会信用代码 and no personal details")
        try:
            code = validate_uscc(uscc)
        except BadUSCC as exc:
            if not (attest and exc.attestable):
                raise
            code, problem, status = compact_uscc(uscc), exc.reason, "pending_verification"
        if writer.session.scalar(select(Subject.id).where(Subject.uscc == code)):
            raise Duplicate(f"统一社会信用代码 {code} is registered already")
    else:
        if real_name is None or uscc is not None:
            raise InvalidInput(f"a {kind} registers with a real-name record and no USCC")
        if master_key is None:
            raise InvalidInput("master_key is needed to encrypt real-name details")
        commitment = pii.seal(writer.session, master_key, subject_id, real_name, now)
    key = subject_key(subject_id)
    write(writer, actor, now, apply_subjects, [("credit.subject_registered", key, {
        "id": subject_id, "kind": kind, "name": name, "uscc": code, "status": status,
        "uscc_problem": problem, "attested": bool(attest and problem),
        "realname_commitment": commitment,
        "commitment_scheme": pii.COMMITMENT_SCHEME if commitment else None,
    })])
    return get_subject(writer.session, subject_id)


def resolve_verification(writer: LogWriter, actor: Actor, subject_id: str, accepted: bool,
                         note: str, *, now: datetime) -> Subject:
    """Accept or reject a subject held for manual verification of its USCC.

    :raises Forbidden: unless an inspector or administrator decides.
    :raises Conflict: when the subject is not pending verification.
    """
    require_role(actor, _RESOLVERS, "resolve a manual verification")
    subject = get_subject(writer.session, subject_id)
    if subject.status != "pending_verification":
        raise Conflict(f"subject {subject_id} is {subject.status}, not pending_verification")
    write(writer, actor, now, apply_subjects, [("credit.verification_resolved",
          subject_key(subject_id), {"id": subject_id, "accepted": accepted, "note": note})])
    return subject


def verify_identity(writer: LogWriter, actor: Actor, subject_id: str, *, method: str,
                    now: datetime, valid_for: timedelta = rules.REVERIFY_INTERVAL) -> Subject:
    """Record a real-name (identity) verification; it is due again after ``valid_for``.

    :raises Forbidden: unless a platform, inspector or administrator verifies.
    :raises Conflict: when the subject is not active (pending, rejected, closed).
    """
    now = aware(now)
    require_role(actor, _VERIFIERS, "verify identities")
    subject = get_subject(writer.session, subject_id)
    if subject.status != "active":
        raise Conflict(f"subject {subject_id} is {subject.status}: resolve it first")
    write(writer, actor, now, apply_subjects, [("credit.identity_verified", subject_key(subject_id),
          {"id": subject_id, "method": method, "due": ts(now + valid_for)})])
    return subject


def identity_status(subject: Subject, now: datetime) -> str:
    """Return ``verified``, ``overdue`` (re-verification due date passed) or ``unverified``."""
    if subject.verified_at is None or subject.verification_due is None or subject.pii_erased:
        return "unverified"
    return "verified" if rules.utc(subject.verification_due) > aware(now) else "overdue"


def reveal_real_name(writer: LogWriter, actor: Actor, subject_id: str, purpose: str, *,
                     now: datetime, master_key: bytes) -> pii.Opened:
    """Decrypt an individual's real-name details for ``purpose``; the access is an entry.

    The ``credit.pii_accessed`` entry names who read and why, never what (PIPL Art 51).

    :raises Forbidden: unless an inspector or administrator reads.
    :raises InvalidInput: without a purpose.
    :raises Erased: when the details were erased.
    """
    require_role(actor, _RESOLVERS, "read real-name details")
    if not purpose.strip():
        raise InvalidInput("reading real-name details needs a purpose")
    get_subject(writer.session, subject_id)
    opened = pii.open_real_name(writer.session, master_key, subject_id)
    write(writer, actor, now, apply_subjects, [("credit.pii_accessed", subject_key(subject_id),
          {"id": subject_id, "purpose": purpose})])
    return opened


def erase_personal_data(writer: LogWriter, actor: Actor, subject_id: str, reason: str, *,
                        now: datetime) -> Subject:
    """Destroy an individual's real-name key (crypto-shredding) and close the subject.

    :raises Forbidden: unless an administrator erases.
    :raises Conflict: when the subject has no real-name details or they are erased.
    """
    require_role(actor, frozenset({"admin"}), "erase personal data")
    subject = get_subject(writer.session, subject_id)
    if subject.realname_commitment is None or subject.pii_erased:
        raise Conflict(f"subject {subject_id} has no personal data to erase")
    pii.shred(writer.session, subject_id)
    write(writer, actor, now, apply_subjects, [("credit.pii_erased", subject_key(subject_id),
          {"id": subject_id, "reason": reason})])
    return subject


def add_licence(writer: LogWriter, actor: Actor, subject_id: str, licence_type: str, number: str,
                issuer: str, valid_from: datetime, valid_until: datetime, *, now: datetime,
                xk: dict[str, str] | None = None) -> Licence:
    """Record a licence (许可证) of ``subject_id``, valid from ``valid_from`` until ``valid_until``.

    :raises Forbidden: unless a platform, inspector or administrator records it.
    :raises InvalidInput: for an unknown licence type, an empty number or a reversed period.
    :raises Duplicate: when a licence of that type and number exists.
    """
    require_role(actor, _LICENCE_KEEPERS, "record licences")
    get_subject(writer.session, subject_id)
    if licence_type not in rules.LICENCE_TYPES:
        raise InvalidInput(f"unknown licence type {licence_type!r}")
    number = number.strip()
    if not number or aware(valid_until, "valid_until") <= aware(valid_from, "valid_from"):
        raise InvalidInput(f"licence {number!r} needs a number and valid_until after valid_from")
    found = writer.session.scalar(select(Licence.id).where(
        Licence.licence_type == licence_type, Licence.number == number))
    if found:
        raise Duplicate(f"{rules.LICENCE_TYPES[licence_type]} {number} is recorded already")
    licence_id = new_id()
    write(writer, actor, now, apply_subjects, [("credit.licence_added", subject_key(subject_id), {
        "id": licence_id, "subject_id": subject_id, "licence_type": licence_type, "number": number,
        "issuer": issuer, "valid_from": ts(valid_from), "valid_until": ts(valid_until), "xk": xk,
    })])
    return writer.session.get_one(Licence, licence_id)


def revoke_licence(writer: LogWriter, actor: Actor, licence_id: str, reason: str, *,
                   now: datetime) -> Licence:
    """Revoke a licence (吊销/注销): from now on it counts as missing.

    :raises Forbidden: unless an inspector or administrator revokes.
    :raises NotFound: when there is no such licence.
    :raises Conflict: when it is revoked already.
    """
    require_role(actor, _RESOLVERS, "revoke licences")
    licence = writer.session.get(Licence, licence_id)
    if licence is None:
        raise NotFound(f"no licence {licence_id!r}")
    if licence.status != "valid":
        raise Conflict(f"licence {licence_id} is {licence.status}")
    write(writer, actor, now, apply_subjects, [("credit.licence_revoked",
          subject_key(licence.subject_id), {"id": licence_id, "reason": reason})])
    return licence


def valid_licences(session: Session, subject_id: str, now: datetime,
                   types: tuple[str, ...] | None = None) -> list[Licence]:
    """Return the licences of ``subject_id`` valid at ``now`` (expired = missing), by index."""
    now = aware(now)
    stmt = select(Licence).where(Licence.subject_id == subject_id, Licence.valid_until > now,
                                 Licence.valid_from <= now, Licence.status == "valid")
    if types is not None:
        stmt = stmt.where(Licence.licence_type.in_(types))
    return list(session.scalars(stmt.order_by(Licence.valid_until.desc())))


def commitment_text(commitment_type: str) -> dict[str, Any]:
    """Return the standard 承诺书 of ``commitment_type``: template version, type and clauses.

    :raises InvalidInput: for an unknown commitment type.
    """
    if commitment_type not in rules.COMMITMENT_TYPES:
        raise InvalidInput(f"unknown commitment type {commitment_type!r}")
    return {"template": rules.COMMITMENT_TEMPLATE_VERSION, "type": commitment_type,
            "type_zh": rules.COMMITMENT_TYPES[commitment_type],
            "clauses": [list(clause) for clause in rules.COMMITMENT_CLAUSES]}


def make_commitment(writer: LogWriter, actor: Actor, subject_id: str, *, now: datetime,
                    commitment_type: str = "self_discipline",
                    valid_until: datetime | None = None) -> Commitment:
    """Append a public credit commitment (信用承诺) of ``subject_id`` in the standard template.

    The entry names the template version, the clause codes and the SHA-256 of the
    exact text (RFC 8785 JSON of ``commitment_text``), so the text can be shown and checked.

    :raises Forbidden: when the actor's role may not commit.
    :raises InvalidInput: for an unknown type or ``valid_until`` not after ``now``.
    :raises Conflict: when the subject is not active.
    """
    now = aware(now)
    require_role(actor, _COMMITTERS, "make credit commitments")
    subject = get_subject(writer.session, subject_id)
    if subject.status != "active":
        raise Conflict(f"subject {subject_id} is {subject.status}")
    text = commitment_text(commitment_type)
    if valid_until is not None and aware(valid_until, "valid_until") <= now:
        raise InvalidInput("valid_until must be after now")
    commitment_id = new_id()
    write(writer, actor, now, apply_subjects, [("credit.commitment_made", subject_key(subject_id), {
        "id": commitment_id, "subject_id": subject_id, "template": text["template"],
        "type": commitment_type, "clauses": [c[0] for c in rules.COMMITMENT_CLAUSES],
        "text_sha256": hashlib.sha256(rfc8785.dumps(text)).hexdigest(),
        "public": True, "valid_until": ts(valid_until),
    })])
    return writer.session.get_one(Commitment, commitment_id)


def active_commitment(session: Session, subject_id: str, now: datetime) -> Commitment | None:
    """Return an active (not breached, not expired) commitment of ``subject_id``, by index."""
    now = aware(now)
    stmt = select(Commitment).where(
        Commitment.subject_id == subject_id, Commitment.status == "active",
        (Commitment.valid_until.is_(None)) | (Commitment.valid_until > now)).limit(1)
    return session.scalar(stmt)
