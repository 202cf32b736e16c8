"""Credit API, the acts: licences, commitments, verification, records and repair, complaints,
ratings, red and black lists, the score and the consumer-protection fund.

Each view parses, calls one credit service inside ``writing()`` and renders.  Web adds
only what credit cannot know: who the caller acts for (a token's actor id is the credit
subject it acts for, so a merchant acts for itself only) and the facts of trace (who
listed, bought and carried an item, shown by the item projection and commitment openings).

Decisions: a complaint (投诉) needs the opening of the item's buyer or signer commitment,
whoever files it, and names that commitment as the complainant.  A report (举报) may be
anonymous: without an opening the complainant is ``anonymous`` and it claims nothing
(the entry's envelope still names the token's pseudonymous actor, so abuse can be traced
by the operator, not by the merchant or the public).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import Response, jsonify, request
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select
from sqlalchemy.orm import Session

from credit import complaints, fund, lists, ratings, records, rules, scoring, services
from ledger.actor import Actor
from ledger.errors import AuditError
from trace import queries
from trace.errors import NotFound as ItemNotFound
from trace.errors import ProofMismatch
from trace.events import Opening, commitment_of
from trace.identifiers import gtin as normalise_gtin
from trace.models import EVENTS
from web.api.spec import operation
from web.auth import current_actor
from web.db import get_session
from web.errors import ForbiddenError, RequestError
from web.glue import now, to_json, writing

__all__: list[str] = []

_SELF_SERVICE = frozenset({"merchant", "producer", "logistics", "courier"})
_DELIVERED = ("signed", "returned")  # trace.rules states after signing for the item


def _text(longest: int, shortest: int = 1) -> dict[str, Any]:
    return {"type": "string", "minLength": shortest, "maxLength": longest}


def _body(required: tuple[str, ...], **properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "required": list(required),
            "properties": properties}


def _enum(values: Any) -> dict[str, Any]:
    return {"type": "string", "maxLength": 40, "enum": list(values)}


_ID = _text(32)  # credit ids are 16 hex digits (credit._entries.new_id)
_TIME = {"type": "string", "format": "date-time", "maxLength": 40}
_FEN = {"type": "integer", "minimum": 1, "maximum": 10**12}
_PROOF = _body(("salt", "value"), salt={"type": "string", "pattern": "^[0-9a-f]{32,128}$",
                                        "maxLength": 128}, value=_text(400))
_ITEM = {"gtin": _text(14), "lot": _text(20), "serial": _text(20)}
_NOTE = _text(2000)

LICENCE_BODY = _body(("licence_type", "number", "issuer", "valid_from", "valid_until"),
                     licence_type=_enum(rules.LICENCE_TYPES), number=_text(100),
                     issuer=_text(200), valid_from=_TIME, valid_until=_TIME)
REASON_BODY = _body(("reason",), reason=_NOTE)
COMMITMENT_BODY = _body((), commitment_type=_enum(rules.COMMITMENT_TYPES), valid_until=_TIME)
VERIFY_BODY = _body(("method",), method=_text(64),
                    valid_for_days={"type": "integer", "minimum": 1, "maximum": 3650})
RESOLVE_BODY = _body(("accepted", "note"), accepted={"type": "boolean"}, note=_NOTE)
RECORD_BODY = _body(
    ("subject_id", "polarity", "source", "basis", "facts"), subject_id=_ID,
    polarity=_enum(("negative", "positive")), source=_enum(rules.RECORD_SOURCES),
    severity=_enum(rules.SEVERITIES), basis=_NOTE, facts=_NOTE, decided_at=_TIME,
    authority=_text(200, 0), decision_no=_text(100),
    publish_months={"type": "integer", "minimum": 1, "maximum": 36}, publish_until=_TIME,
    public={"type": "boolean"})
REPAIR_BODY = _body(("evidence",), evidence={"type": "array", "minItems": 1, "maxItems": 20,
                                             "items": _text(2000)})
DECISION_BODY = _body(("approved", "reason"), approved={"type": "boolean"}, reason=_NOTE)
COMPLAINT_BODY = _body(("kind", *_ITEM, "category", "text"), kind=_enum(complaints.KINDS),
                       **_ITEM, category=_text(64), text=_NOTE, claim_fen=_FEN, proof=_PROOF)
ANSWER_BODY = _body(("text",), text=_NOTE)
COMPLAINT_DECISION_BODY = _body(("outcome", "reason"), outcome=_enum(complaints.OUTCOMES),
                                reason=_NOTE, severity=_enum(rules.SEVERITIES))
RATING_BODY = _body(
    ("order_id", *_ITEM, "direction", "ratee_id", "value"), order_id=_text(100), **_ITEM,
    direction=_enum(ratings.DIRECTIONS), ratee_id=_text(200), value=_enum(rules.RATING_POINTS),
    dsr=_body((), **{k: {"type": "integer", "minimum": 1, "maximum": 5}
                     for k in ratings.DSR_KEYS}),
    text=_text(500, 0), proof=_PROOF)
FOLLOWUP_BODY = _body(("text",), text=_text(500), proof=_PROOF)
PROPOSAL_BODY = _body(("subject_id", "list", "reason", "basis"), subject_id=_ID,
                      list=_enum(lists.LIST_RULES), reason=_NOTE, basis=_NOTE)
LIST_DECISION_BODY = _body(("approved", "note"), approved={"type": "boolean"}, note=_NOTE,
                           start=_TIME)
DEPOSIT_BODY = _body(("amount_fen",), amount_fen=_FEN, note=_text(200, 0))
CLAIM_BODY = _body(("complaint_id", "platform_id"), complaint_id=_ID, platform_id=_ID,
                   amount_fen=_FEN)
RECOVERY_BODY = _body(("amount_fen",), amount_fen=_FEN)


# ---------------------------------------------------------------- parsing and rendering


def _time(body: dict[str, Any], name: str) -> datetime | None:
    """Return the aware datetime of ``body[name]`` (None when absent)."""
    value = body.get(name)
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise RequestError(f"{name} must be an RFC 3339 date-time, got {value!r}",
                           code="request.invalid_body") from None
    if parsed.tzinfo is None:
        raise RequestError(f"{name} needs a time-zone offset", code="request.invalid_body")
    return parsed


def _row(row: Any) -> dict[str, Any]:
    """Return a projection row as JSON; stored times are UTC (SQLite returns them naive)."""
    data: dict[str, Any] = {}
    for column in sa_inspect(row).mapper.column_attrs:
        value = getattr(row, column.key)
        data[column.key] = to_json(rules.utc(value) if isinstance(value, datetime) else value)
    return data


def _acting_for(subject_id: str, own_only: frozenset[str] = _SELF_SERVICE) -> Actor:
    """Return the caller, refusing one of the ``own_only`` roles acting for someone else.

    :raises ForbiddenError: e.g. a merchant committing or applying for repair for another.
    """
    actor = current_actor()
    if actor.role in own_only and actor.id != subject_id:
        raise ForbiddenError(f"{actor.role} {actor.id} may act for itself only, not for "
                             f"{subject_id}", code="auth.not_own_subject")
    return actor


def _item(gtin: str, lot: str, serial: str) -> tuple[dict[str, Any], str]:
    """Return the trace item row and its key (GS1 Digital Link path: AI 01, 10, 21).

    :raises NotFound: (trace) when there is no such item.
    """
    gtin14 = normalise_gtin(gtin)
    row = queries.find_item(get_session(), gtin14, lot, serial)
    if row is None:
        raise ItemNotFound(f"no item {gtin14} lot {lot!r} serial {serial!r}")
    return row, f"01/{gtin14}/10/{lot}/21/{serial}"


def _opening(body: dict[str, Any]) -> Opening | None:
    proof = body.get("proof")
    return Opening(proof["salt"], proof["value"]) if proof else None


class _SignedOrder:
    """``ratings.PartyCheck`` answered from trace for one item of an order.

    The order counts only once that item was signed for (state signed or returned).
    Seller: the actor that listed it; buyer: the buyer commitment of the sale (a consumer
    proves it with the opening); logistics: an actor that recorded its shipment.
    """

    def __init__(self, session: Session, item: dict[str, Any]) -> None:
        self.session, self.item = session, item

    def _actors(self, kind: str) -> list[tuple[str, str]]:
        e = EVENTS.c
        return [(r.actor, r.time) for r in self.session.execute(
            select(e.actor, e.time).where(e.gtin == self.item["gtin"],
                                          e.serial == self.item["serial"], e.kind == kind,
                                          e.corrected_by.is_(None)).order_by(e.idx))]

    def __call__(self, order_id: str, party_id: str, role: str) -> bool:
        item = self.item
        if item["order_id"] != order_id or item["state"] not in _DELIVERED:
            return False
        if role == "seller":
            return bool(item["lister"] == party_id)
        if role == "buyer":
            return bool(item["buyer_commitment"] == party_id)
        return role == "logistics" and party_id in {a for a, _ in self._actors("shipment")}

    def signed_at(self) -> datetime | None:
        """Return when the item was last signed for (the rating window opens then)."""
        found = self._actors("signing")
        return datetime.fromisoformat(found[-1][1].replace("Z", "+00:00")) if found else None


# ---------------------------------------------------------------- licences, commitments


@operation("/subjects/<subject_id>/licences", "POST", summary="Record a licence (许可证)",
           tag="credit", roles=("platform", "inspector"), body=LICENCE_BODY, status=201)
def add_licence(subject_id: str) -> tuple[Response, int]:
    """Record a licence of the subject, valid from ``valid_from`` until ``valid_until``."""
    body = request.get_json()
    start, end = _time(body, "valid_from"), _time(body, "valid_until")
    assert start is not None and end is not None
    with writing() as writer:
        licence = services.add_licence(writer, current_actor(), subject_id, body["licence_type"],
                                       body["number"], body["issuer"], start, end, now=now())
    return jsonify(_row(licence)), 201


@operation("/licences/<licence_id>/revoke", "POST", summary="Revoke a licence (吊销/注销)",
           tag="credit", roles=("inspector",), body=REASON_BODY)
def revoke_licence(licence_id: str) -> Response:
    """Revoke a licence: from now on it counts as missing."""
    with writing() as writer:
        licence = services.revoke_licence(writer, current_actor(), licence_id,
                                          request.get_json()["reason"], now=now())
    return jsonify(_row(licence))


@operation("/subjects/<subject_id>/commitments", "POST", tag="credit", status=201,
           summary="Make a public credit commitment (信用承诺) in the standard template",
           roles=("merchant", "producer", "logistics", "courier", "platform"),
           body=COMMITMENT_BODY)
def make_commitment(subject_id: str) -> tuple[Response, int]:
    """Append the subject's commitment; a merchant (or other party) commits for itself only."""
    body = request.get_json()
    kind = body.get("commitment_type", "self_discipline")
    actor = _acting_for(subject_id)
    with writing() as writer:
        made = services.make_commitment(writer, actor, subject_id, now=now(), commitment_type=kind,
                                        valid_until=_time(body, "valid_until"))
    return jsonify(_row(made) | {"text": services.commitment_text(kind)}), 201


@operation("/subjects/<subject_id>/commitments/active", "GET", tag="credit",
           summary="The subject's commitment in force, with its text")
def active_commitment(subject_id: str) -> Response:
    """Return the active commitment (``null`` when there is none) and its template text."""
    session = get_session()
    services.get_subject(session, subject_id)
    found = services.active_commitment(session, subject_id, now())
    return jsonify(subject_id=subject_id, commitment=None if found is None else _row(found) | {
        "text": services.commitment_text(found.commitment_type)})


# ---------------------------------------------------------------- verification


def _subject_json(subject: Any) -> dict[str, Any]:
    return _row(subject) | {"identity": services.identity_status(subject, now())}


@operation("/subjects/<subject_id>/verification", "POST", tag="credit", body=VERIFY_BODY,
           roles=("platform", "inspector"),
           summary="Record a real-name verification (电子商务法 Art 27 核验)")
def verify_identity(subject_id: str) -> Response:
    """Record that the subject's identity was verified; it is due again in a year by default."""
    body = request.get_json()
    days = body.get("valid_for_days")
    extra = {"valid_for": timedelta(days=days)} if days else {}
    with writing() as writer:
        subject = services.verify_identity(writer, current_actor(), subject_id,
                                           method=body["method"], now=now(), **extra)
    return jsonify(_subject_json(subject))


@operation("/subjects/<subject_id>/verification/resolve", "POST", tag="credit",
           body=RESOLVE_BODY, roles=("inspector",),
           summary="Accept or reject a subject held for manual USCC verification")
def resolve_verification(subject_id: str) -> Response:
    """Decide a subject registered with an attested USCC that failed a GB 32100 check."""
    body = request.get_json()
    with writing() as writer:
        subject = services.resolve_verification(writer, current_actor(), subject_id,
                                                body["accepted"], body["note"], now=now())
    return jsonify(_subject_json(subject))


# ---------------------------------------------------------------- records and repair


@operation("/records", "POST", summary="Add a credit record (信用记录)", tag="credit",
           roles=("inspector", "platform", "logistics"), body=RECORD_BODY, status=201)
def add_record() -> tuple[Response, int]:
    """Add a record; the source decides who may (regulator and court: inspectors)."""
    body = request.get_json()
    when = now()
    fields = {k: body[k] for k in ("severity", "decision_no", "publish_months", "public")
              if k in body}
    with writing() as writer:
        record = records.add_record(
            writer, current_actor(), body["subject_id"], polarity=body["polarity"],
            source=body["source"], basis=body["basis"], facts=body["facts"],
            decided_at=_time(body, "decided_at") or when, now=when,
            authority=body.get("authority", ""), publish_until=_time(body, "publish_until"),
            **fields)
    return jsonify(_row(record)), 201


@operation("/records/<record_id>/repair", "POST", summary="Apply for credit repair (信用修复)",
           tag="credit", roles=("merchant", "producer", "logistics", "courier", "platform"),
           body=REPAIR_BODY, status=201)
def apply_repair(record_id: str) -> tuple[Response, int]:
    """Apply for repair of a negative record of the caller (or, for a platform, any)."""
    actor = _acting_for(records.get_record(get_session(), record_id).subject_id)
    with writing() as writer:
        repair = records.apply_repair(writer, actor, record_id, request.get_json()["evidence"],
                                      now=now())
    return jsonify(_row(repair)), 201


@operation("/repairs/<repair_id>/decision", "POST", summary="Decide a repair application",
           tag="credit", roles=("inspector", "platform"), body=DECISION_BODY)
def decide_repair(repair_id: str) -> Response:
    """Approve (publication stops now) or reject; regulator and court records: inspectors only."""
    body = request.get_json()
    with writing() as writer:
        repair = records.decide_repair(writer, current_actor(), repair_id, body["approved"],
                                       body["reason"], now=now())
    return jsonify(_row(repair))


# ---------------------------------------------------------------- complaints


def _complaint_json(row: Any, viewer: Actor | None) -> dict[str, Any]:
    data = _row(row)
    if viewer is None or (viewer.role not in ("platform", "inspector", "admin")
                          and viewer.id != row.merchant_id):
        for private in ("complainant_id", "text", "answer"):
            data.pop(private)
    return data


def _complainant(kind: str, item: dict[str, Any], proof: Opening | None, actor: Actor) -> str:
    """Return who complains: the buyer or signer commitment an opening opens.

    :raises ProofMismatch: for a complaint without an opening, or an opening of neither.
    """
    if proof is None and kind == "report":
        return "anonymous" if actor.role == "consumer" else actor.id
    opened = commitment_of(proof) if proof is not None else None
    if opened is None or opened not in (item["buyer_commitment"], item["signer_commitment"]):
        raise ProofMismatch("a complaint needs the opening of the item's buyer or signer "
                            "commitment (a report may be anonymous)")
    return opened


@operation("/complaints", "POST", summary="File a complaint (投诉) or report (举报) about an item",
           tag="credit", roles=("consumer", "platform"), body=COMPLAINT_BODY, status=201)
def file_complaint() -> tuple[Response, int]:
    """File against the merchant that listed the item; the answer and decision clocks start.

    A complaint needs ``proof``, the opening of the buyer's or signer's commitment; a
    report without one is anonymous and may not claim compensation.
    """
    body = request.get_json()
    actor = current_actor()
    item, key = _item(body["gtin"], body["lot"], body["serial"])
    if item["lister"] is None:
        raise RequestError(f"item {key} was never listed: no merchant to complain about",
                           code="request.item_not_listed")
    who = _complainant(body["kind"], item, _opening(body), actor)
    if who in ("anonymous", actor.id) and "claim_fen" in body:
        raise RequestError("only the buyer or signer may claim compensation",
                           code="request.invalid_body")
    with writing() as writer:
        case = complaints.file_complaint(
            writer, actor, kind=body["kind"], item_key=key, merchant_id=item["lister"],
            complainant_id=who, category=body["category"], text=body["text"], now=now(),
            claim_fen=body.get("claim_fen"))
    return jsonify(_complaint_json(case, actor)), 201


@operation("/complaints/<complaint_id>/answer", "POST", summary="The merchant's answer",
           tag="credit", roles=("merchant", "platform"), body=ANSWER_BODY)
def answer_complaint(complaint_id: str) -> Response:
    """Answer before the deadline; a merchant answers complaints about itself only."""
    merchant = complaints.get_complaint(get_session(), complaint_id).merchant_id
    actor = _acting_for(merchant, frozenset({"merchant"}))
    with writing() as writer:
        case = complaints.answer_complaint(writer, actor, complaint_id,
                                           request.get_json()["text"], now=now())
    return jsonify(_complaint_json(case, actor))


@operation("/complaints/<complaint_id>/decision", "POST", tag="credit",
           summary="Decide a case (platform; the regulator once escalated)",
           roles=("platform", "inspector"), body=COMPLAINT_DECISION_BODY)
def decide_complaint(complaint_id: str) -> Response:
    """Uphold (a negative record of the merchant) or reject the case."""
    body = request.get_json()
    actor = current_actor()
    with writing() as writer:
        case = complaints.decide_complaint(writer, actor, complaint_id, body["outcome"],
                                           body["reason"], now=now(),
                                           severity=body.get("severity"))
    return jsonify(_complaint_json(case, actor))


@operation("/complaints/escalate-overdue", "POST", tag="credit", roles=("inspector",),
           summary="Send every case whose deadline lapsed to the regulator")
def escalate_overdue() -> Response:
    """Escalate the cases whose answer or decision is overdue at the current time."""
    with writing() as writer:
        escalated = complaints.escalate_overdue(writer, now())
    viewer = current_actor()
    return jsonify(count=len(escalated), escalated=[_complaint_json(c, viewer) for c in escalated])


@operation("/items/<gtin>/<lot>/<serial>/complaints", "GET", tag="credit",
           summary="Complaints and reports about an item")
def item_complaints(gtin: str, lot: str, serial: str) -> Response:
    """List the cases, oldest first; who complained and the texts only to the platform,
    the regulator and the merchant concerned."""
    viewer = current_actor() if request.headers.get("Authorization") else None
    _, key = _item(gtin, lot, serial)
    found = complaints.complaints_about_item(get_session(), key)
    return jsonify(item_key=key, complaints=[_complaint_json(c, viewer) for c in found])


# ---------------------------------------------------------------- ratings


@operation("/ratings", "POST", summary="Rate a party of a signed order", tag="credit",
           roles=("consumer", "merchant"), body=RATING_BODY, status=201)
def rate() -> tuple[Response, int]:
    """Rate after the item was signed for; a buyer is its commitment, proven by ``proof``."""
    body = request.get_json()
    actor = current_actor()
    opening = _opening(body)
    item, key = _item(body["gtin"], body["lot"], body["serial"])
    order = _SignedOrder(get_session(), item)
    with writing() as writer:
        rating = ratings.rate(
            writer, actor, order_id=body["order_id"], item_key=key, direction=body["direction"],
            rater_id=commitment_of(opening) if opening else actor.id, ratee_id=body["ratee_id"],
            value=body["value"], now=now(), is_party=order, signed_at=order.signed_at(),
            dsr=body.get("dsr"), text=body.get("text", ""))
    return jsonify(_row(rating)), 201


@operation("/ratings/<rating_id>/follow-up", "POST", summary="Add the follow-up review (追评)",
           tag="credit", roles=("consumer", "merchant"), body=FOLLOWUP_BODY, status=201)
def follow_up(rating_id: str) -> tuple[Response, int]:
    """Append the rater's one follow-up (a buyer proves it is the rater with ``proof``)."""
    body = request.get_json()
    actor = current_actor()
    opening = _opening(body)
    with writing() as writer:
        added = ratings.add_followup(writer, actor, rating_id,
                                     commitment_of(opening) if opening else actor.id,
                                     body["text"], now=now())
    return jsonify(_row(added)), 201


@operation("/subjects/<subject_id>/ratings", "GET", tag="credit",
           summary="A subject's rating points, counts, good rate and DSR stars")
def subject_ratings(subject_id: str) -> Response:
    """Return the rating summary (DSR averages over the rules' window)."""
    session = get_session()
    services.get_subject(session, subject_id)
    return jsonify(to_json(ratings.rating_summary(session, subject_id, now())))


# ---------------------------------------------------------------- lists


@operation("/lists/proposals", "POST", summary="Propose a red- or black-list entry",
           tag="credit", roles=("inspector",), body=PROPOSAL_BODY, status=201)
def propose_list_entry() -> tuple[Response, int]:
    """Propose an entry; an inspector decides it."""
    body = request.get_json()
    with writing() as writer:
        entry = lists.propose_list_entry(writer, current_actor(), body["subject_id"],
                                         body["list"], body["reason"], body["basis"], now=now())
    return jsonify(_row(entry)), 201


@operation("/lists/proposals/automatic", "POST", tag="credit", roles=("inspector",),
           summary="Propose entries from serious records and grades A and D")
def propose_automatic() -> Response:
    """Propose what the rules call for (never twice for one trigger); return the proposals."""
    with writing() as writer:
        made = lists.propose_automatic(writer, now=now(), actor=current_actor())
    return jsonify(count=len(made), proposals=[_row(e) for e in made])


@operation("/lists/entries/<entry_id>/decision", "POST", summary="Decide a list proposal",
           tag="credit", roles=("inspector",), body=LIST_DECISION_BODY)
def decide_list_entry(entry_id: str) -> Response:
    """Approve (from ``start``, default now; the rules fix removal and end dates) or reject."""
    body = request.get_json()
    with writing() as writer:
        entry = lists.decide_list_entry(writer, current_actor(), entry_id, body["approved"],
                                        body["note"], now=now(), start=_time(body, "start"))
    return jsonify(_row(entry))


@operation("/lists/entries/<entry_id>/remove", "POST", summary="Remove a list entry early",
           tag="credit", roles=("inspector",), body=REASON_BODY)
def remove_from_list(entry_id: str) -> Response:
    """Remove an entry in force (a black-list entry not before its earliest removal date)."""
    with writing() as writer:
        entry = lists.remove_from_list(writer, current_actor(), entry_id,
                                       request.get_json()["reason"], now=now())
    return jsonify(_row(entry))


@operation("/subjects/<subject_id>/effects", "GET", tag="credit",
           summary="What the lists and the grade mean for a subject now")
def subject_effects(subject_id: str) -> Response:
    """Return black/red listed, grade, ranking factor, inspections a year, shop closure."""
    session = get_session()
    services.get_subject(session, subject_id)
    return jsonify(to_json(lists.effects(session, subject_id, now())))


# ---------------------------------------------------------------- score


@operation("/subjects/<subject_id>/score", "GET", tag="credit",
           roles=("merchant", "producer", "logistics", "courier", "platform", "inspector"),
           summary="The explainable credit score: every contribution, in Chinese and English")
def subject_score(subject_id: str) -> Response:
    """Return score, grade and contributions; a party sees its own (unpublished records count)."""
    _acting_for(subject_id)
    return jsonify(to_json(scoring.compute_score(get_session(), subject_id, now())))


@operation("/subjects/<subject_id>/grade/refresh", "POST", tag="credit", roles=("inspector",),
           summary="Recompute the grade; a change is appended to the ledger")
def refresh_grade(subject_id: str) -> Response:
    """Recompute the score and record the grade when it changed."""
    with writing() as writer:
        score = scoring.refresh_grade(writer, subject_id, now=now(), actor=current_actor())
    return jsonify(to_json(score))


# ---------------------------------------------------------------- fund

_PLATFORM = frozenset({"platform"})


@operation("/funds/<platform_id>/deposits", "POST", tag="credit", roles=("platform",),
           summary="Deposit into the consumer-protection fund (消费者权益保证金)",
           body=DEPOSIT_BODY, status=201)
def deposit(platform_id: str) -> tuple[Response, int]:
    """Deposit fen into the platform's own fund."""
    body = request.get_json()
    actor = _acting_for(platform_id, _PLATFORM)
    with writing() as writer:
        movement = fund.deposit(writer, actor, platform_id, body["amount_fen"], now=now(),
                                note=body.get("note", ""))
    return jsonify(_row(movement)), 201


@operation("/claims", "POST", summary="Open an advance-compensation claim (先行赔付)",
           tag="credit", roles=("platform",), body=CLAIM_BODY, status=201)
def open_claim() -> tuple[Response, int]:
    """Open a claim on the platform's fund for an upheld complaint (default: its claim)."""
    body = request.get_json()
    actor = _acting_for(body["platform_id"], _PLATFORM)
    with writing() as writer:
        claim = fund.open_claim(writer, actor, body["complaint_id"],
                                platform_id=body["platform_id"], now=now(),
                                amount_fen=body.get("amount_fen"))
    return jsonify(_row(claim)), 201


@operation("/claims/<claim_id>/payout", "POST", summary="Pay the consumer from the fund now",
           tag="credit", roles=("platform",))
def pay_claim(claim_id: str) -> Response:
    """Pay the claim from the platform's fund, before the merchant pays."""
    actor = _acting_for(fund.get_claim(get_session(), claim_id).fund_id, _PLATFORM)
    with writing() as writer:
        claim = fund.pay_claim(writer, actor, claim_id, now=now())
    return jsonify(_row(claim))


@operation("/claims/<claim_id>/recovery", "POST", summary="Record a recovery from the merchant",
           tag="credit", roles=("platform",), body=RECOVERY_BODY)
def recover_claim(claim_id: str) -> Response:
    """Record an amount the merchant paid back into the fund for a paid claim."""
    actor = _acting_for(fund.get_claim(get_session(), claim_id).fund_id, _PLATFORM)
    with writing() as writer:
        claim = fund.recover(writer, actor, claim_id, request.get_json()["amount_fen"], now=now())
    return jsonify(_row(claim))


@operation("/funds/<platform_id>", "GET", summary="A fund's balance, checked against the ledger",
           tag="credit", roles=("platform", "inspector"))
def fund_balance(platform_id: str) -> Response:
    """Return the balance (sum of movements) and the same sum recomputed from the ledger.

    :raises AuditError: (409) when they differ.
    """
    _acting_for(platform_id, _PLATFORM)
    session = get_session()
    services.get_subject(session, platform_id)
    derived, ledger = fund.balance(session, platform_id), fund.ledger_balance(session, platform_id)
    if derived != ledger:
        raise AuditError(f"fund {platform_id}: movements sum to {derived} fen, the ledger to "
                         f"{ledger}", code="ledger.audit.fund_balance")
    return jsonify(platform_id=platform_id, balance_fen=derived, ledger_balance_fen=ledger)
