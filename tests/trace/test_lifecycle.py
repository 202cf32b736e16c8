"""Lifecycle rules and roles: each refusal names its reason and writes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session

from ledger.actor import Actor
from trace import queries, services
from trace.errors import (
    CardNumberRefused,
    Duplicate,
    ForbiddenRole,
    NotFound,
    ProofMismatch,
    RuleViolation,
    TraceError,
)
from trace.events import Opening, commit
from tests.trace.conftest import (
    AT,
    COURIER,
    CONSUMER,
    GTIN,
    INSPECTOR,
    LOGISTICS,
    LOT,
    MERCHANT,
    OTHER_MERCHANT,
    PLATFORM,
    PRODUCER,
    RIVAL,
    Buyer,
    Tx,
    Walk,
    item,
    key,
)

SIGNER_COMMITMENT, SIGNER_OPENING = commit("neighbour-who-signed")
SHIPMENT = {**key("S0000"), "waybill": "W", "carrier": "SF", "weight_g": 10}  # shipping item S0000

Refused = Callable[..., TraceError]


@pytest.fixture
def refused(tx: Tx, size: Callable[[], int]) -> Refused:
    """Return a function recording an event that must be refused; it checks nothing was written."""

    def attempt(
        error: type[TraceError],
        actor: Actor,
        kind: str,
        body: dict[str, Any],
        proof: Opening | None = None,
        at: str = AT,
    ) -> TraceError:
        before = size()
        with pytest.raises(error) as info:
            with tx() as w:
                services.record_event(w, actor, kind, body, at=at, proof=proof)
        assert size() == before
        return info.value

    return attempt


def test_an_item_cannot_be_sold_before_it_is_listed(
    stocked: list[str], buyer: Buyer, refused: Refused
) -> None:
    err = refused(
        RuleViolation,
        MERCHANT,
        "sale",
        {
            **key("S0000"),
            "order_id": "o1",
            "buyer_commitment": buyer.commitment,
            "price_cents": 100,
            "currency": "CNY",
        },
    )
    assert err.extra["reason"] == "trace.rule.sale_before_listing"
    assert "S0000" in err.detail


def test_an_item_cannot_be_shipped_before_it_is_sold(walk: Walk, refused: Refused) -> None:
    walk("listing")
    err = refused(RuleViolation, MERCHANT, "shipment", SHIPMENT)
    assert err.extra["reason"] == "trace.rule.shipment_before_sale"


def test_an_item_cannot_be_signed_for_before_it_is_shipped(walk: Walk, refused: Refused) -> None:
    walk("sale")
    err = refused(
        RuleViolation, COURIER, "signing", {**key("S0000"), "signer_commitment": SIGNER_COMMITMENT}
    )
    assert err.extra["reason"] == "trace.rule.signing_before_shipment"


def test_an_item_cannot_be_signed_for_twice(walk: Walk, refused: Refused) -> None:
    walk("signing", signer=SIGNER_COMMITMENT)
    err = refused(
        RuleViolation, COURIER, "signing", {**key("S0000"), "signer_commitment": SIGNER_COMMITMENT}
    )
    assert err.extra["reason"] == "trace.rule.second_signing"


def test_the_buyer_and_the_signer_may_review_once_then_follow_up(
    tx: Tx, db_session: Session, walk: Walk, buyer: Buyer, refused: Refused
) -> None:
    walk("signing", signer=SIGNER_COMMITMENT)
    with tx() as w:
        first = services.record_event(
            w,
            CONSUMER,
            "review",
            {**key("S0000"), "rating": 4, "text": "ok"},
            at=AT,
            proof=SIGNER_OPENING,
        )
    err = refused(
        RuleViolation, CONSUMER, "review", {**key("S0000"), "rating": 1}, proof=buyer.opening
    )
    assert err.extra["reason"] == "trace.rule.second_review"
    with tx() as w:
        services.record_event(
            w,
            CONSUMER,
            "follow_up_review",
            {**key("S0000"), "review_index": first, "text": "still good after a month"},
            at=AT,
            proof=buyer.opening,
        )
    entry = queries.item_history(db_session, GTIN, LOT, "S0000").events[-1].entry
    assert entry.actor == "consumer:buyer" and entry.body["by"] == "buyer"
    assert (
        buyer.opening.value not in entry.raw.decode()
        and buyer.opening.salt not in entry.raw.decode()
    )


def test_a_follow_up_must_name_the_first_review(walk: Walk, buyer: Buyer, refused: Refused) -> None:
    walk("signing", signer=SIGNER_COMMITMENT)
    err = refused(
        RuleViolation,
        CONSUMER,
        "follow_up_review",
        {**key("S0000"), "review_index": 3, "text": "x"},
        proof=buyer.opening,
    )
    assert err.extra["reason"] == "trace.rule.follow_up_without_review"


def test_only_the_buyer_or_signer_may_review(walk: Walk, buyer: Buyer, refused: Refused) -> None:
    walk("signing", signer=SIGNER_COMMITMENT)
    stranger = commit("someone-else")[1]
    refused(ProofMismatch, CONSUMER, "review", {**key("S0000"), "rating": 1}, proof=stranger)
    refused(ProofMismatch, CONSUMER, "review", {**key("S0000"), "rating": 1}, proof=None)
    forged = Opening(buyer.opening.salt, "buyer-account-9528")
    refused(ProofMismatch, CONSUMER, "review", {**key("S0000"), "rating": 1}, proof=forged)
    refused(ForbiddenRole, MERCHANT, "review", {**key("S0000"), "rating": 5})


def test_a_review_needs_a_received_item(walk: Walk, buyer: Buyer, refused: Refused) -> None:
    walk("sale")
    err = refused(
        RuleViolation, CONSUMER, "review", {**key("S0000"), "rating": 5}, proof=buyer.opening
    )
    assert err.extra["reason"] == "trace.rule.review_before_signing"


def test_the_buyer_may_complain_before_delivery_and_get_advance_compensation(
    tx: Tx, db_session: Session, walk: Walk, buyer: Buyer, refused: Refused
) -> None:
    walk("sale")
    err = refused(
        RuleViolation,
        PLATFORM,
        "compensation",
        {**key("S0000"), "amount_cents": 5000, "currency": "CNY", "complaint_index": 0},
    )
    assert err.extra["reason"] == "trace.rule.compensation_without_complaint"
    with tx() as w:
        complaint = services.record_event(
            w,
            CONSUMER,
            "complaint",
            {**key("S0000"), "text": "not shipped"},
            at=AT,
            proof=buyer.opening,
        )
        services.record_event(
            w,
            PLATFORM,
            "compensation",
            {**key("S0000"), "amount_cents": 5000, "currency": "CNY", "complaint_index": complaint},
            at=AT,
        )
    assert item(db_session, "S0000")["compensation_cents"] == 5000


@pytest.mark.parametrize(
    ("actor", "kind", "body"),
    [
        (COURIER, "listing", {"platform": "mall", "shop_id": "s", "listing_id": "l"}),
        (LOGISTICS, "listing", {"platform": "mall", "shop_id": "s", "listing_id": "l"}),
        (CONSUMER, "listing", {"platform": "mall", "shop_id": "s", "listing_id": "l"}),
        (
            PRODUCER,
            "sale",
            {"order_id": "o", "buyer_commitment": "a" * 64, "price_cents": 1, "currency": "CNY"},
        ),
        (MERCHANT, "signing", {"signer_commitment": "a" * 64}),
        (PLATFORM, "signing", {"signer_commitment": "a" * 64}),
        (MERCHANT, "recall", None),
        (COURIER, "inspection", None),
    ],
)
def test_roles_may_only_record_their_own_events(
    stocked: list[str],
    refused: Refused,
    actor: Actor,
    kind: str,
    body: dict[str, Any] | None,
) -> None:
    target = {"gtin": GTIN, "lot": LOT} if body is None else key("S0001")
    fields = body or (
        {"reason": "x"}
        if kind == "recall"
        else {"result": "pass", "report_no": "R1", "inspecting_body": "SAMR"}
    )
    err = refused(ForbiddenRole, actor, kind, {**target, **fields})
    assert err.extra["reason"] == "trace.forbidden.role"


def test_a_producer_writes_only_events_of_its_own_products(
    tx: Tx, size: Callable[[], int], stocked: list[str], refused: Refused
) -> None:
    err = refused(
        ForbiddenRole,
        RIVAL,
        "production",
        {"gtin": GTIN, "lot": "L2", "production_date": "2026-11-02"},
    )
    assert err.extra["reason"] == "trace.forbidden.not_producer"
    before = size()
    with pytest.raises(ForbiddenRole):
        with tx() as w:
            services.serialise_items(w, RIVAL, gtin=GTIN, lot=LOT, serials=["X1"], at=AT)
    with pytest.raises(ForbiddenRole):
        with tx() as w:
            services.register_product(
                w, RIVAL, gtin="06901234567908", name="x", category="food", producer=PRODUCER.id
            )
    assert size() == before


def test_a_merchant_acts_only_on_items_it_listed(walk: Walk, refused: Refused) -> None:
    walk("sale")
    err = refused(ForbiddenRole, OTHER_MERCHANT, "shipment", SHIPMENT)
    assert err.extra["reason"] == "trace.forbidden.not_lister"


def test_a_recalled_batch_takes_only_recall_handling(
    tx: Tx, walk: Walk, buyer: Buyer, refused: Refused
) -> None:
    walk("sale")
    with tx() as w:
        services.record_event(
            w, INSPECTOR, "recall", {"gtin": GTIN, "lot": LOT, "reason": "melamine"}, at=AT
        )
    err = refused(
        RuleViolation,
        MERCHANT,
        "listing",
        {**key("S0001"), "platform": "mall", "shop_id": "s", "listing_id": "l"},
    )
    assert err.extra["reason"] == "trace.rule.batch_recalled"
    err = refused(RuleViolation, MERCHANT, "shipment", SHIPMENT)
    assert err.extra["reason"] == "trace.rule.batch_recalled"
    err = refused(RuleViolation, PRODUCER, "recall", {"gtin": GTIN, "lot": LOT, "reason": "again"})
    assert err.extra["reason"] == "trace.rule.already_recalled"
    with tx() as w:  # recall handling goes on
        services.record_event(
            w,
            MERCHANT,
            "refund",
            {**key("S0000"), "amount_cents": 25900, "currency": "CNY", "reason": "recall"},
            at=AT,
        )
        services.record_event(
            w,
            CONSUMER,
            "complaint",
            {**key("S0000"), "text": "recalled"},
            at=AT,
            proof=buyer.opening,
        )


def test_an_expired_batch_is_not_sold(walk: Walk, buyer: Buyer, refused: Refused) -> None:
    walk("listing", at="2027-10-31T23:59:00+08:00")
    err = refused(
        RuleViolation,
        MERCHANT,
        "sale",
        {
            **key("S0000"),
            "order_id": "o",
            "buyer_commitment": buyer.commitment,
            "price_cents": 1,
            "currency": "CNY",
        },
        at="2027-11-02T00:00:01+08:00",
    )
    assert err.extra["reason"] == "trace.rule.batch_expired"


def test_refunds_cannot_exceed_the_price_or_repeat(tx: Tx, walk: Walk, refused: Refused) -> None:
    walk("sale")
    err = refused(
        RuleViolation,
        MERCHANT,
        "refund",
        {**key("S0000"), "amount_cents": 25901, "currency": "CNY"},
    )
    assert err.extra["reason"] == "trace.rule.refund_exceeds_price"
    with tx() as w:
        services.record_event(
            w, MERCHANT, "refund", {**key("S0000"), "amount_cents": 100, "currency": "CNY"}, at=AT
        )
    err = refused(
        RuleViolation, MERCHANT, "refund", {**key("S0000"), "amount_cents": 100, "currency": "CNY"}
    )
    assert err.extra["reason"] == "trace.rule.second_refund"


def test_a_payment_with_a_card_number_is_refused_and_nothing_written(
    tx: Tx, walk: Walk, refused: Refused
) -> None:
    walk("sale")
    refused(
        CardNumberRefused,
        PLATFORM,
        "payment",
        {**key("S0000"), "institution": "UnionPay", "reference": "6212 3456 7890 1265"},
    )
    with tx() as w:
        services.record_event(
            w,
            PLATFORM,
            "payment",
            {
                **key("S0000"),
                "institution": "Alipay",
                "reference": "2026112822001404150512345678",
                "amount_cents": 25900,
                "currency": "CNY",
            },
            at=AT,
        )
    err = refused(
        RuleViolation,
        PLATFORM,
        "payment",
        {**key("S0000"), "institution": "Alipay", "reference": "again"},
    )
    assert err.extra["reason"] == "trace.rule.second_payment"


def test_a_refusal_inside_a_composed_transaction_rolls_back_everything(
    tx: Tx, size: Callable[[], int], stocked: list[str], buyer: Buyer
) -> None:
    before = size()
    with pytest.raises(RuleViolation):
        with tx() as w:
            services.record_event(
                w,
                MERCHANT,
                "listing",
                {**key("S0000"), "platform": "mall", "shop_id": "s", "listing_id": "l"},
                at=AT,
            )
            services.record_event(
                w,
                MERCHANT,
                "shipment",
                {**key("S0000"), "waybill": "W", "carrier": "SF", "weight_g": 1},
                at=AT,
            )
    assert size() == before


def test_unknown_objects_and_duplicates_are_refused(
    tx: Tx, size: Callable[[], int], stocked: list[str], refused: Refused
) -> None:
    refused(
        NotFound,
        MERCHANT,
        "listing",
        {**key("NOPE"), "platform": "mall", "shop_id": "s", "listing_id": "l"},
    )
    refused(
        Duplicate,
        PRODUCER,
        "production",
        {"gtin": GTIN, "lot": LOT, "production_date": "2026-11-01"},
    )
    before = size()
    with pytest.raises(Duplicate, match="S0003"):
        with tx() as w:  # a serial is unique within its GTIN, whatever the lot
            services.create_batch(
                w, PRODUCER, gtin=GTIN, lot="L2", production_date="2026-11-02", at=AT
            )
            services.serialise_items(
                w, PRODUCER, gtin=GTIN, lot="L2", serials=["N1", "S0003"], at=AT
            )
    with pytest.raises(Duplicate, match="given twice"):
        with tx() as w:
            services.serialise_items(w, PRODUCER, gtin=GTIN, lot=LOT, serials=["N1", "N1"], at=AT)
    assert size() == before


def test_corrections_declare_an_event_wrong_without_deleting_it(
    tx: Tx, db_session: Session, stocked: list[str], refused: Refused
) -> None:
    with tx() as w:
        wrong = services.record_event(
            w,
            INSPECTOR,
            "inspection",
            {
                "gtin": GTIN,
                "lot": LOT,
                "result": "fail",
                "report_no": "R-1",
                "inspecting_body": "SAMR",
            },
            at=AT,
        )
    refused(
        ForbiddenRole, PRODUCER, "correction", {"ref_index": wrong, "reason": "not mine"}
    )
    with tx() as w:
        fix = services.record_event(
            w, INSPECTOR, "correction", {"ref_index": wrong, "reason": "typo: passed"}, at=AT
        )
    err = refused(
        RuleViolation, INSPECTOR, "correction", {"ref_index": wrong, "reason": "again"}
    )
    assert err.extra["reason"] == "trace.rule.already_corrected"
    history = queries.batch_history(db_session, GTIN, LOT)
    corrected = next(e for e in history.events if e.index == wrong)
    assert corrected.corrected_by == fix and corrected.entry.body["result"] == "fail"
    assert history.events[-1].index == fix and history.events[-1].kind == "correction"


@pytest.mark.parametrize(
    ("actor", "gtin", "lot", "error", "message"),
    [
        (PRODUCER, "06901234567809", LOT, NotFound, "product 06901234567809 is not registered"),
        (PRODUCER, GTIN, "NO-SUCH-LOT", NotFound, f"batch {GTIN}/NO-SUCH-LOT does not exist"),
        (RIVAL, GTIN, LOT, ForbiddenRole, f"product {GTIN} belongs to another producer"),
        (RIVAL, GTIN, "NO-SUCH-LOT", ForbiddenRole, "belongs to another producer"),
    ],
)
def test_serials_need_a_registered_product_its_producer_and_a_batch(
    tx: Tx, size: Callable[[], int], stocked: list[str], actor: Actor, gtin: str, lot: str,
    error: type[TraceError], message: str,
) -> None:
    # One query reads the product's producer and the batch (trace.queries.find_product_batch);
    # each refusal still names its own reason, and nothing is written.
    before = size()
    with pytest.raises(error, match=message):
        with tx() as w:
            services.serialise_items(w, actor, gtin=gtin, lot=lot, serials=["NEW1"], at=AT)
    assert size() == before
