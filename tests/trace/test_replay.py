"""``flask ledger replay`` rebuilds the trace tables exactly from the ledger entries."""

from __future__ import annotations

import json
from pathlib import Path

from flask.testing import FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from trace import services
from trace.epcis import EpcisSchema
from trace.epcis_capture import capture
from trace.events import commit
from trace.models import TABLES
from tests.trace.conftest import (
    AT,
    CONSUMER,
    GTIN,
    INSPECTOR,
    LOGISTICS,
    LOT,
    MERCHANT,
    PRODUCER,
    Buyer,
    Tx,
    deliver,
    key,
    sell,
)


def snapshot(session: Session) -> dict[str, list[tuple[object, ...]]]:
    """Return every row of every trace table, in primary-key order."""
    return {
        t.name: [tuple(r) for r in session.execute(select(t).order_by(*t.primary_key.columns))]
        for t in TABLES
    }


def test_replay_rebuilds_every_trace_table_identically(
    tx: Tx,
    db_session: Session,
    runner: FlaskCliRunner,
    stocked: list[str],
    buyer: Buyer,
    examples: Path,
    epcis_schema: EpcisSchema,
) -> None:
    signer_commitment, signer_opening = commit("signer")
    sell(tx, "S0000", buyer)
    deliver(tx, "S0000", signer_commitment)
    with tx() as w:
        review = services.record_event(
            w, CONSUMER, "review", {**key("S0000"), "rating": 2}, at=AT, proof=signer_opening
        )
        services.record_event(
            w,
            CONSUMER,
            "follow_up_review",
            {**key("S0000"), "review_index": review, "text": "broke"},
            at=AT,
            proof=buyer.opening,
        )
        complaint = services.record_event(
            w, CONSUMER, "complaint", {**key("S0000"), "text": "broken"}, at=AT, proof=buyer.opening
        )
        services.record_event(
            w, MERCHANT, "refund", {**key("S0000"), "amount_cents": 100, "currency": "CNY"}, at=AT
        )
        services.record_event(
            w,
            PRODUCER,
            "aggregation",
            {"sscc": "069012340000000016", "items": [key("S0001"), key("S0002")]},
            at=AT,
        )
        services.record_event(
            w,
            LOGISTICS,
            "aggregation",
            {"sscc": "069012340000000030", "units": ["069012340000000016"]},
            at=AT,
        )
        services.record_event(
            w,
            LOGISTICS,
            "disaggregation",
            {"sscc": "069012340000000016", "items": [key("S0002")]},
            at=AT,
        )
        wrong = services.record_event(
            w,
            INSPECTOR,
            "inspection",
            {"gtin": GTIN, "lot": LOT, "result": "fail", "report_no": "R", "inspecting_body": "B"},
            at=AT,
        )
        services.record_event(
            w, INSPECTOR, "correction", {"ref_index": wrong, "reason": "typo"}, at=AT
        )
        services.record_event(
            w, INSPECTOR, "recall", {"gtin": GTIN, "lot": LOT, "reason": "test"}, at=AT
        )
    assert complaint
    for name in ("Example_9.6.1-ObjectEvent.jsonld", "Example_9.6.3-AggregationEvent.jsonld"):
        with tx() as w:
            capture(
                w,
                LOGISTICS,
                json.loads((examples / name).read_text()),
                schema=epcis_schema,
            )
    before = snapshot(db_session)
    assert all(before[t.name] for t in TABLES)  # every table has rows to compare
    db_session.rollback()
    result = runner.invoke(args=["ledger", "replay"])
    assert result.exit_code == 0, result.output
    db_session.expire_all()
    assert snapshot(db_session) == before
