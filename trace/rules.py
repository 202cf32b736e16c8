"""The lifecycle rules: who may record which event, in which state, with what result.

:data:`RULES` is the one table: for each event kind, the roles that may record it,
the item states it may follow, the state it leads to, and the refusal reason when
it comes too early.  Around the table, a few named checks that a table cannot say
(one review then one follow-up, compensation only after a complaint, ...).

Item states: ``commissioned`` (serialised) → ``listed`` → ``sold`` → ``shipped`` →
``in_delivery`` (scanned on the way) → ``signed`` → ``returned``.  Payment, review,
complaint, refund and compensation record facts without moving the state.

Consumers (review, follow-up review, complaint, return, signing in the app) prove
who they are by presenting the *opening* of a commitment recorded earlier: the
buyer's (the sale's ``buyer_commitment``, handed out by the platform with the
order) or the signer's (the signing's ``signer_commitment``, handed out by the
courier with the receipt).  The opening never enters the ledger; the entry
records which commitment it opened (``by``: ``buyer`` or ``signer``) and the
envelope actor becomes ``consumer:buyer`` or ``consumer:signer``, so no
consumer identity is ever written.

Batches that are recalled, or past their expiry date at the event's time, take
only recall handling and consumer feedback (:data:`AFTER_STOP`).

All checks are pure: they take the rows the service read and raise; nothing is
written when one refuses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from ledger.actor import Actor
from trace.errors import ForbiddenRole, ProofMismatch, RuleViolation
from trace.events import Opening, commitment_of

__all__ = [
    "Rule",
    "RULES",
    "REASONS",
    "STATES",
    "AFTER_STOP",
    "check_role",
    "check_owner",
    "check_lister",
    "check_batch_open",
    "check_state",
    "check_consumer",
    "check_specific",
]

COMMISSIONED, LISTED, SOLD, SHIPPED, IN_DELIVERY, SIGNED, RETURNED = (
    "commissioned",
    "listed",
    "sold",
    "shipped",
    "in_delivery",
    "signed",
    "returned",
)
STATES = (COMMISSIONED, LISTED, SOLD, SHIPPED, IN_DELIVERY, SIGNED, RETURNED)
_AFTER_SALE = frozenset({SOLD, SHIPPED, IN_DELIVERY, SIGNED, RETURNED})


@dataclass(frozen=True)
class Rule:
    """One row of the lifecycle table."""

    kind: str
    roles: frozenset[str]
    after: frozenset[str] | None  # item states the event may follow (None: not item-bound)
    result: str | None  # the item state it leads to (None: unchanged)
    too_early: str  # reason code when the item is not yet in an ``after`` state


def _rule(kind: str, roles: str, after: frozenset[str] | set[str] | None, result: str | None,
          too_early: str = "bad_state") -> Rule:
    roles = roles.replace("PACKERS", "producer merchant platform logistics")
    roles = roles.replace("STAFF", "producer merchant platform logistics courier inspector admin")
    return Rule(kind, frozenset(roles.split()), frozenset(after) if after is not None else None,
                result, "trace.rule." + too_early)


_BEFORE_SHIP = {COMMISSIONED, LISTED, SOLD}
_ON_THE_WAY = {SHIPPED, IN_DELIVERY}
# PACKERS: producer merchant platform logistics; STAFF: every role but consumer.
# fmt: off
RULES: dict[str, Rule] = {r.kind: r for r in (
    # kind                roles                          may follow           leads to  too early
    _rule("product",          "producer admin",              None,                 None),
    _rule("production",       "producer",                    None,                 None),
    _rule("serialisation",    "producer",                    None,                 COMMISSIONED),
    _rule("inspection",       "inspector producer",          None,                 None),
    _rule("aggregation",      "PACKERS",                     _BEFORE_SHIP,         None),
    _rule("disaggregation",   "PACKERS courier",             None,                 None),
    _rule("listing",          "merchant platform",           {COMMISSIONED},       LISTED),
    _rule("sale",             "merchant platform",           {LISTED},             SOLD,
          "sale_before_listing"),
    _rule("payment",          "platform merchant",           _AFTER_SALE - {RETURNED}, None,
          "payment_before_sale"),
    _rule("shipment",         "merchant logistics",          {SOLD},               SHIPPED,
          "shipment_before_sale"),
    _rule("delivery_scan",    "logistics courier",           _ON_THE_WAY,          IN_DELIVERY,
          "scan_before_shipment"),
    _rule("signing",          "courier logistics consumer",  _ON_THE_WAY,          SIGNED,
          "signing_before_shipment"),
    _rule("review",           "consumer",                    {SIGNED, RETURNED},   None,
          "review_before_signing"),
    _rule("follow_up_review", "consumer",                    {SIGNED, RETURNED},   None,
          "review_before_signing"),
    _rule("complaint",        "consumer",                    _AFTER_SALE,          None,
          "complaint_before_sale"),
    _rule("return",           "consumer merchant platform",  {SIGNED},             RETURNED,
          "return_before_signing"),
    _rule("refund",           "merchant platform",           _AFTER_SALE,          None,
          "refund_before_sale"),
    _rule("compensation",     "platform admin",              _AFTER_SALE,          None,
          "compensation_before_sale"),
    _rule("recall",           "producer inspector admin",    None,                 None),
    _rule("correction",       "STAFF",                       None,                 None),
)}
# fmt: on

# Kinds a recalled or expired batch still takes: recall handling and consumer feedback.
AFTER_STOP = frozenset({"inspection", "disaggregation", "complaint", "return", "refund",
                        "compensation", "correction", "review", "follow_up_review"})
# Kinds whose producer-role actor must be the product's producer.
_PRODUCER_OWNS = frozenset({"production", "serialisation", "inspection", "aggregation",
                            "disaggregation", "recall", "correction"})
# Kinds a merchant may record only on items it listed itself.
_LISTER_ONLY = frozenset({"sale", "payment", "shipment", "refund", "return"})

REASONS: dict[str, str] = {
    "trace.rule.bad_state": "the item is not in a state this event may follow",
    "trace.rule.sale_before_listing": "an item cannot be sold before it is listed",
    "trace.rule.already_listed": "the item is listed already",
    "trace.rule.already_sold": "the item is sold already",
    "trace.rule.shipment_before_sale": "an item cannot be shipped before it is sold",
    "trace.rule.already_shipped": "the item is shipped already",
    "trace.rule.scan_before_shipment": "a delivery scan needs a shipment first",
    "trace.rule.signing_before_shipment": "an item cannot be signed for before it is shipped",
    "trace.rule.second_signing": "the item was signed for already",
    "trace.rule.review_before_signing": "only an item that was received can be reviewed",
    "trace.rule.second_review": "one review per item; add a follow-up review instead",
    "trace.rule.follow_up_without_review": "a follow-up review needs the first review",
    "trace.rule.second_follow_up": "one follow-up review per review",
    "trace.rule.complaint_before_sale": "only a sold item can be complained about",
    "trace.rule.return_before_signing": "only an item that was signed for can be returned",
    "trace.rule.payment_before_sale": "a payment needs a sale",
    "trace.rule.second_payment": "the sale is paid already",
    "trace.rule.refund_before_sale": "a refund needs a sale",
    "trace.rule.second_refund": "the item was refunded already",
    "trace.rule.refund_exceeds_price": "a refund cannot exceed the sale price",
    "trace.rule.compensation_before_sale": "advance compensation needs a sale",
    "trace.rule.compensation_without_complaint":
        "advance compensation answers a complaint of this item",
    "trace.rule.packing_after_shipment": "items are packed before they are shipped",
    "trace.rule.already_packed": "the item or unit is in another logistic unit",
    "trace.rule.not_in_unit": "the item or unit is not in this logistic unit",
    "trace.rule.empty_unit": "the logistic unit contains nothing",
    "trace.rule.unit_cycle": "a unit cannot be packed into itself",
    "trace.rule.batch_recalled": "the batch is recalled: only recall handling is accepted",
    "trace.rule.batch_expired":
        "the batch is past its expiry date: only recall handling is accepted",
    "trace.rule.already_recalled": "the batch is recalled already",
    "trace.rule.already_corrected": "that event was declared erroneous already",
    "trace.rule.correct_a_correction": "a correction cannot be corrected; record a new event",
}


def _too_late(rule: Rule, state: str) -> str:
    if rule.kind == "signing" and state in (SIGNED, RETURNED):
        return "trace.rule.second_signing"
    if rule.kind == "listing":
        return "trace.rule.already_listed"
    if rule.kind == "sale":
        return "trace.rule.already_sold"
    if rule.kind == "shipment":
        return "trace.rule.already_shipped"
    if rule.kind == "aggregation":
        return "trace.rule.packing_after_shipment"
    return "trace.rule.bad_state"


def check_role(rule: Rule, actor: Actor) -> None:
    """Refuse an actor whose role may not record ``rule.kind``.

    :raises ForbiddenRole: e.g. a courier listing, a merchant signing for a consumer.
    """
    if actor.role not in rule.roles:
        raise ForbiddenRole(
            f"role {actor.role!r} may not record {rule.kind} "
            f"(allowed: {', '.join(sorted(rule.roles))})"
        )


def check_owner(rule: Rule, actor: Actor, producer: str, gtin: str) -> None:
    """Refuse a producer recording events of another producer's product.

    :raises ForbiddenRole: with reason ``trace.forbidden.not_producer``.
    """
    if actor.role == "producer" and rule.kind in _PRODUCER_OWNS and producer != actor.id:
        raise ForbiddenRole(
            f"product {gtin} belongs to another producer", reason="trace.forbidden.not_producer"
        )


def check_lister(rule: Rule, actor: Actor, item: Mapping[str, Any], where: str) -> None:
    """Refuse a merchant acting on an item another merchant listed.

    :raises ForbiddenRole: with reason ``trace.forbidden.not_lister``.
    """
    if (
        actor.role == "merchant"
        and rule.kind in _LISTER_ONLY
        and item["lister"] is not None
        and item["lister"] != actor.id
    ):
        raise ForbiddenRole(
            f"{where} was listed by another merchant", reason="trace.forbidden.not_lister"
        )


def check_batch_open(rule: Rule, batch: Mapping[str, Any], at: str) -> None:
    """Refuse events other than recall handling on a recalled or expired batch.

    The expiry date is compared with the event's date in its own offset.

    :raises RuleViolation: ``trace.rule.batch_recalled`` or ``trace.rule.batch_expired``.
    """
    if rule.kind in AFTER_STOP:
        return
    where = f"batch {batch['gtin']}/{batch['lot']}"
    if batch["status"] == "recalled":
        reason = (
            "trace.rule.already_recalled" if rule.kind == "recall" else "trace.rule.batch_recalled"
        )
        raise RuleViolation(f"{where} is recalled: {rule.kind} refused", reason=reason)
    expiry: date | None = batch["expiry_date"]
    when = datetime.fromisoformat(at).date()
    if expiry is not None and when > expiry and rule.kind != "recall":
        raise RuleViolation(
            f"{where} expired on {expiry.isoformat()}: {rule.kind} on "
            f"{when.isoformat()} refused",
            reason="trace.rule.batch_expired",
        )


def check_state(rule: Rule, item: Mapping[str, Any], where: str) -> None:
    """Refuse an event that may not follow the item's current state.

    :raises RuleViolation: with the rule's reason (e.g. ``trace.rule.sale_before_listing``).
    """
    if rule.after is None or item["state"] in rule.after:
        return
    order = STATES.index(item["state"])
    earliest = min(STATES.index(s) for s in rule.after)
    reason = rule.too_early if order < earliest else _too_late(rule, item["state"])
    raise RuleViolation(
        f"{where} is {item['state']}: {rule.kind} refused ({REASONS[reason]})", reason=reason
    )


def check_consumer(
    actor: Actor, item: Mapping[str, Any], proof: Opening | None, where: str
) -> tuple[str, str] | None:
    """Return ``(by, commitment)`` a consumer's proof opens, or None for other roles.

    :raises ProofMismatch: when a consumer gives no opening, or one that opens
        neither the buyer's nor the signer's commitment of the item.
    """
    if actor.role != "consumer":
        return None
    if proof is None:
        raise ProofMismatch(
            f"{where}: a consumer must present the buyer's or signer's commitment opening"
        )
    commitment = commitment_of(proof)
    for by, column in (("signer", "signer_commitment"), ("buyer", "buyer_commitment")):
        if item[column] is not None and item[column] == commitment:
            return by, commitment
    raise ProofMismatch(f"{where}: the opening matches neither the buyer nor the person who signed")


def check_specific(
    kind: str,
    item: Mapping[str, Any],
    fields: Mapping[str, Any],
    where: str,
    complaint: Mapping[str, Any] | None = None,
) -> None:
    """Apply the rules the table cannot express (once-only events, references, amounts).

    ``complaint`` is the projected event row that ``compensation.complaint_index`` names.

    :raises RuleViolation: naming the reason.
    """

    def refuse(reason: str) -> None:
        raise RuleViolation(f"{where}: {kind} refused ({REASONS[reason]})", reason=reason)

    if kind == "review" and item["review_idx"] is not None:
        refuse("trace.rule.second_review")
    if kind == "follow_up_review":
        if item["review_idx"] is None or item["review_idx"] != fields["review_index"]:
            refuse("trace.rule.follow_up_without_review")
        if item["follow_up_idx"] is not None:
            refuse("trace.rule.second_follow_up")
    if kind == "payment" and item["payment_idx"] is not None:
        refuse("trace.rule.second_payment")
    if kind == "refund":
        if item["refund_idx"] is not None:
            refuse("trace.rule.second_refund")
        if item["price_cents"] is not None and (
            fields["amount_cents"] > item["price_cents"] or fields["currency"] != item["currency"]
        ):
            refuse("trace.rule.refund_exceeds_price")
    if kind == "compensation" and (complaint is None or complaint["kind"] != "complaint"):
        refuse("trace.rule.compensation_without_complaint")
