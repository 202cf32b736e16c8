"""Histories with inclusion proofs, backward trace, where-used and recall scope (aggregation)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from ledger import merkle
from ledger.errors import ProofError
from ledger.note import LogVerifierKey, verify_checkpoint
from ledger.signer import LogSigner
from trace import queries, services
from trace.errors import NotFound, RuleViolation
from trace.events import commit
from tests.conftest import ORIGIN, make_app
from tests.trace.conftest import (
    AT,
    GTIN,
    INSPECTOR,
    LOGISTICS,
    LOT,
    MERCHANT,
    PRODUCER,
    Buyer,
    Tx,
    deliver,
    item,
    key,
    sell,
)

CASE_A, CASE_B, PALLET = "069012340000000016", "069012340000000023", "069012340000000030"


def test_item_history_proves_every_event_against_the_signed_checkpoint(
    tx: Tx, db_session: Session, signer: LogSigner, stocked: list[str], buyer: Buyer
) -> None:
    sell(tx, "S0000", buyer)
    deliver(tx, "S0000", commit("signer")[0])
    history = queries.item_history(db_session, GTIN, LOT, "S0000")
    assert [e.kind for e in history.events] == [
        "production",
        "serialisation",
        "listing",
        "sale",
        "shipment",
        "delivery_scan",
        "signing",
    ]
    checkpoint = verify_checkpoint(
        history.checkpoint or "", [LogVerifierKey.from_vkey(signer.vkey)], ORIGIN
    )
    assert (checkpoint.size, checkpoint.root_hash) == (history.tree_size, history.root)
    for event in history.events:
        merkle.verify_inclusion(
            event.leaf_hash, event.index, history.tree_size, event.proof, history.root
        )
        assert event.entry.subject.startswith(("item:", "batch:"))
    tampered = history.events[3]
    with pytest.raises(ProofError):
        merkle.verify_inclusion(
            merkle.leaf_hash(tampered.entry.raw.replace(b"25900", b"25901")),
            tampered.index,
            history.tree_size,
            tampered.proof,
            history.root,
        )


def test_backward_trace_leads_from_an_item_to_its_batch_and_inspection(
    tx: Tx, db_session: Session, stocked: list[str]
) -> None:
    with tx() as w:
        services.record_event(
            w,
            INSPECTOR,
            "inspection",
            {
                "gtin": GTIN,
                "lot": LOT,
                "result": "pass",
                "report_no": "SAMR-2026-77",
                "inspecting_body": "上海市食品药品检验所",
            },
            at=AT,
        )
    trace = queries.backward_trace(db_session, GTIN, LOT, "S0004")
    assert (
        trace.product["name"] == "婴儿奶粉"
        and trace.product["licence_category"] == "food_production"
    )
    assert trace.batch["inspection_result"] == "pass"
    assert [e.kind for e in trace.batch_events.events] == ["production", "inspection"]
    assert trace.batch_events.events[1].entry.body["report_no"] == "SAMR-2026-77"
    with pytest.raises(NotFound):
        queries.backward_trace(db_session, GTIN, LOT, "S9999")


def pack_pallet(tx: Tx) -> None:
    """Pack S0000-S0002 into case A, S0003-S0004 into case B, both cases onto the pallet."""
    with tx() as w:
        services.record_event(
            w,
            PRODUCER,
            "aggregation",
            {"sscc": CASE_A, "items": [key(f"S000{i}") for i in range(3)]},
            at=AT,
        )
        services.record_event(
            w,
            PRODUCER,
            "aggregation",
            {"sscc": CASE_B, "items": [key("S0003"), key("S0004")]},
            at=AT,
        )
        services.record_event(
            w, LOGISTICS, "aggregation", {"sscc": PALLET, "units": [CASE_A, CASE_B]}, at=AT
        )


def test_events_on_a_pallet_reach_every_item_inside_it(
    tx: Tx, db_session: Session, stocked: list[str], buyer: Buyer
) -> None:
    pack_pallet(tx)
    with tx() as w:
        services.record_event(
            w,
            MERCHANT,
            "listing",
            {"sscc": PALLET, "platform": "mall", "shop_id": "shop-1", "listing_id": "bulk-7"},
            at=AT,
        )
        services.record_event(
            w,
            MERCHANT,
            "sale",
            {
                "sscc": PALLET,
                "order_id": "B2B-1",
                "buyer_commitment": buyer.commitment,
                "price_cents": 100000,
                "currency": "CNY",
            },
            at=AT,
        )
        services.record_event(
            w,
            LOGISTICS,
            "shipment",
            {"sscc": PALLET, "waybill": "JD9", "carrier": "JD", "weight_g": 90000},
            at=AT,
        )
    row = item(db_session, "S0004")
    assert (row["state"], row["order_id"], row["sscc"]) == ("shipped", "B2B-1", CASE_B)
    history = queries.item_history(db_session, GTIN, LOT, "S0004")
    shipment = history.events[-1]
    assert (shipment.kind, shipment.via, shipment.entry.subject) == (
        "shipment",
        PALLET,
        f"sscc:{PALLET}",
    )
    assert item(db_session, "S0005")["state"] == "commissioned"
    pallet = queries.unit_history(db_session, PALLET)
    assert [e.kind for e in pallet.events] == ["aggregation", "listing", "sale", "shipment"]


def test_where_used_and_recall_scope_follow_aggregation(
    tx: Tx, db_session: Session, stocked: list[str], buyer: Buyer
) -> None:
    sell(tx, "S0007", buyer, order="order-7")
    pack_pallet(tx)
    with tx() as w:
        services.record_event(
            w,
            MERCHANT,
            "listing",
            {"sscc": CASE_B, "platform": "mall", "shop_id": "shop-9", "listing_id": "x"},
            at=AT,
        )
    used = queries.where_used(db_session, GTIN, LOT)
    assert len(used.items) == 10 and used.items[0] == (GTIN, LOT, "S0000")
    assert set(used.units) == {CASE_A, CASE_B, PALLET}
    scope = queries.recall_scope(db_session, GTIN, LOT)
    assert scope.items == 10 and set(scope.units) == {CASE_A, CASE_B, PALLET}
    assert scope.shops == [MERCHANT.id, "shop-9"] and scope.orders == ["order-7"]
    assert scope.buyer_commitments == [buyer.commitment]
    assert scope.states == {"commissioned": 7, "sold": 1, "listed": 2}


def test_unpacking_keeps_where_used_history_but_frees_the_items(
    tx: Tx, db_session: Session, stocked: list[str]
) -> None:
    pack_pallet(tx)
    with tx() as w:
        services.record_event(
            w, LOGISTICS, "disaggregation", {"sscc": PALLET, "units": [CASE_B]}, at=AT
        )
        services.record_event(w, LOGISTICS, "disaggregation", {"sscc": CASE_B}, at=AT)
    assert item(db_session, "S0003")["sscc"] is None
    assert queries.find_unit(db_session, CASE_B)["parent_sscc"] is None  # type: ignore[index]
    assert queries.unit_contents(db_session, PALLET) == (
        [(GTIN, LOT, f"S000{i}") for i in range(3)],
        [CASE_A],
    )
    assert set(queries.where_used(db_session, GTIN, LOT).units) == {CASE_A, CASE_B, PALLET}
    with pytest.raises(RuleViolation) as info:
        with tx() as w:
            services.record_event(
                w,
                LOGISTICS,
                "shipment",
                {"sscc": CASE_B, "waybill": "W", "carrier": "C", "weight_g": 1},
                at=AT,
            )
    assert info.value.extra["reason"] == "trace.rule.empty_unit"


def test_packing_refuses_items_already_packed_and_cycles(
    tx: Tx, size: Callable[[], int], stocked: list[str]
) -> None:
    pack_pallet(tx)
    before = size()
    with pytest.raises(RuleViolation) as info:
        with tx() as w:
            services.record_event(
                w,
                PRODUCER,
                "aggregation",
                {"sscc": "069012340000000047", "items": [key("S0001")]},
                at=AT,
            )
    assert info.value.extra["reason"] == "trace.rule.already_packed"
    with pytest.raises(RuleViolation) as info:
        with tx() as w:
            services.record_event(
                w, LOGISTICS, "aggregation", {"sscc": CASE_A, "units": [PALLET]}, at=AT
            )
    assert info.value.extra["reason"] == "trace.rule.unit_cycle"
    with pytest.raises(NotFound):
        with tx() as w:
            services.record_event(
                w,
                LOGISTICS,
                "shipment",
                {"sscc": "069012340000000047", "waybill": "W", "carrier": "C", "weight_g": 1},
                at=AT,
            )
    assert size() == before


def test_unknown_objects_have_no_history(db_session: Session, stocked: list[str]) -> None:
    with pytest.raises(NotFound):
        queries.item_history(db_session, GTIN, LOT, "NOPE")
    with pytest.raises(NotFound):
        queries.batch_history(db_session, GTIN, "NOPE")
    with pytest.raises(NotFound):
        queries.recall_scope(db_session, GTIN, "NOPE")
    with pytest.raises(NotFound):
        queries.unit_history(db_session, PALLET)


@pytest.mark.parametrize("chunk", [1, 2, 256])
def test_history_proofs_are_those_of_the_ledger_store(
    tx: Tx,
    db_session: Session,
    stocked: list[str],
    buyer: Buyer,
    monkeypatch: pytest.MonkeyPatch,
    chunk: int,
) -> None:
    # _history builds the proofs of all its events with one reader and shared nodes, in
    # chunks of events: each must be the path ledger.store.inclusion_proof gives.
    from ledger.store import inclusion_proof

    sell(tx, "S0000", buyer)
    deliver(tx, "S0000", commit("signer")[0])
    monkeypatch.setattr(queries, "_PROOF_CHUNK", chunk)
    history = queries.item_history(db_session, GTIN, LOT, "S0000")
    assert len(history.events) == 7
    for event in history.events:
        assert event.proof == inclusion_proof(db_session, event.index, history.tree_size)


def test_lots_of_serials_finds_the_items_of_a_gtin_by_serial(
    db_session: Session, stocked: list[str]
) -> None:
    asked = ["NOPE1", stocked[3], "NOPE2", stocked[7]]
    assert sorted(queries.lots_of_serials(db_session, GTIN, asked)) == [
        (stocked[3], LOT), (stocked[7], LOT)]
    assert queries.lots_of_serials(db_session, GTIN, asked, first=True) in (
        [(stocked[3], LOT)], [(stocked[7], LOT)])
    assert queries.lots_of_serials(db_session, "06901234567809", asked) == []


def test_lots_of_serials_probes_the_serial_index_on_sqlite(tmp_path: Path) -> None:
    # Always SQLite (its planner, without statistics, is what the query guards against):
    # "gtin = ? AND serial IN (...)" would otherwise scan every item of the GTIN
    # through the primary key (gtin, lot, serial).
    app = make_app(tmp_path, None)
    engine = app.extensions["engine"]
    seen: list[tuple[str, Any]] = []

    def keep(_c: Any, _cur: Any, statement: str, params: Any, _ctx: Any, _many: bool) -> None:
        if "trace_items" in statement:
            seen.append((statement, params))

    event.listen(engine, "before_cursor_execute", keep)
    with app.extensions["sessionmaker"]() as session:
        queries.lots_of_serials(session, GTIN, [f"S{i}" for i in range(600)])
    event.remove(engine, "before_cursor_execute", keep)
    assert len(seen) == 2  # two lists: 500 and 100 serials
    with engine.connect() as conn:
        for statement, params in seen:
            plan = " ".join(r[3] for r in conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + statement, params))
            assert "ix_trace_items_gtin_serial (gtin=? AND serial=?)" in plan, plan
