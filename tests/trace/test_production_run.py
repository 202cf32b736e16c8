"""A production run: many serials and their commissioning events in one call."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger import merkle
from ledger.models import LogEntry
from trace import queries, services
from trace.models import Item, TraceEvent
from tests.trace.conftest import AT, GTIN, PRODUCER, Tx

LOT = "RUN-1"


def produce(tx: Tx, db_session: Session, size: Callable[[], int], count: int) -> None:
    with tx() as w:
        services.register_product(
            w, PRODUCER, gtin=GTIN, name="口罩", category="medical_device", at=AT
        )
        services.create_batch(w, PRODUCER, gtin=GTIN, lot=LOT, production_date="2026-11-28", at=AT)
    start = size()
    serials = [f"{i:012d}" for i in range(count)]
    with tx() as w:
        indexes = services.serialise_items(w, PRODUCER, gtin=GTIN, lot=LOT, serials=serials, at=AT)
    assert indexes == range(start, start + count) and size() == start + count
    items = db_session.execute(
        select(func.count()).select_from(Item).where(Item.gtin == GTIN)
    ).scalar_one()
    rows = db_session.execute(
        select(func.count()).select_from(TraceEvent).where(TraceEvent.kind == "serialisation")
    ).scalar_one()
    assert items == rows == count
    last = serials[-1]
    history = queries.item_history(db_session, GTIN, LOT, last)
    event = history.events[-1]
    assert (event.index, event.kind, event.entry.body["serial"]) == (
        start + count - 1,
        "serialisation",
        last,
    )
    merkle.verify_inclusion(
        event.leaf_hash, event.index, history.tree_size, event.proof, history.root
    )
    subjects = db_session.execute(
        select(func.count(func.distinct(LogEntry.subject))).where(
            LogEntry.kind == "trace.serialisation"
        )
    ).scalar_one()
    assert subjects == count  # one hash chain per item


def test_a_run_of_2000_serials_is_one_call(
    tx: Tx, db_session: Session, size: Callable[[], int]
) -> None:
    produce(tx, db_session, size, 2_000)


@pytest.mark.slow
def test_a_run_of_100000_serials_is_one_call(
    tx: Tx, db_session: Session, size: Callable[[], int]
) -> None:
    produce(tx, db_session, size, 100_000)
