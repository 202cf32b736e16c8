"""Listing eligibility: every reason, and index lookups only."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from credit import lists, records, services
from credit.eligibility import REASONS, ProductFacts, check_eligibility
from credit.models import Commitment
from tests.credit.helpers import INSPECTOR, NOW, PLATFORM, USCC_B, Tx, ready_merchant

FOOD = ProductFacts("food", has_production=True, has_inspection=True, batch_recalled=False,
                    batch_expired=False)


def _codes(session: Session, merchant_id: str, facts: ProductFacts = FOOD,
           at: Any = NOW) -> list[str]:
    return [r.code for r in check_eligibility(session, merchant_id, facts, at).reasons]


def test_ready_merchant_may_list_food(tx: Tx, db_session: Session) -> None:
    merchant = ready_merchant(tx)
    answer = check_eligibility(db_session, merchant.id, FOOD, NOW)
    assert answer.eligible and answer.reasons == []


def _unknown(tx: Tx, s: Session) -> tuple[str, ProductFacts, Any]:
    return "no-such-merchant", FOOD, NOW


def _pending(tx: Tx, s: Session) -> tuple[str, ProductFacts, Any]:
    with tx() as w:
        held = services.register_subject(w, PLATFORM, "merchant", "某店", "91350211M00013FA1N",
                                         attest=True, now=NOW)
    return held.id, FOOD, NOW


def _unverified(tx: Tx, s: Session) -> tuple[str, ProductFacts, Any]:
    with tx() as w:
        subject = services.register_subject(w, PLATFORM, "merchant", "某店", USCC_B, now=NOW)
    return subject.id, FOOD, NOW


def _overdue(tx: Tx, s: Session) -> tuple[str, ProductFacts, Any]:
    return ready_merchant(tx).id, FOOD, NOW + timedelta(days=365)


def _no_licence(tx: Tx, s: Session) -> tuple[str, ProductFacts, Any]:
    return ready_merchant(tx, licence=None).id, FOOD, NOW


def _expired_licence(tx: Tx, s: Session) -> tuple[str, ProductFacts, Any]:
    merchant = ready_merchant(tx, licence=None)
    with tx() as w:
        services.add_licence(w, PLATFORM, merchant.id, "food_business", "JY1", "某局",
                             NOW - timedelta(days=400), NOW - timedelta(days=1), now=NOW)
    return merchant.id, FOOD, NOW


def _wrong_licence(tx: Tx, s: Session) -> tuple[str, ProductFacts, Any]:
    merchant = ready_merchant(tx)  # a food licence does not cover drugs
    return merchant.id, ProductFacts("drug", True, True, False, False), NOW


def _breached(tx: Tx, s: Session) -> tuple[str, ProductFacts, Any]:
    merchant = ready_merchant(tx)
    commitment = s.query(Commitment).filter_by(subject_id=merchant.id).one()
    with tx() as w:
        records.record_commitment_breach(w, PLATFORM, commitment.id, basis="违反承诺", facts="x",
                                         severity="minor", now=NOW)
    return merchant.id, FOOD, NOW


def _blacklisted(tx: Tx, s: Session) -> tuple[str, ProductFacts, Any]:
    merchant = ready_merchant(tx)
    with tx() as w:
        entry = lists.propose_list_entry(w, INSPECTOR, merchant.id, "black", "售假", "总局令第44号",
                                         now=NOW)
        lists.decide_list_entry(w, INSPECTOR, entry.id, True, "同意", now=NOW)
    return merchant.id, FOOD, NOW


def _facts(**changes: Any) -> Callable[[Tx, Session], tuple[str, ProductFacts, Any]]:
    def setup(tx: Tx, s: Session) -> tuple[str, ProductFacts, Any]:
        base: dict[str, Any] = dict(category="food", has_production=True, has_inspection=True,
                                    batch_recalled=False, batch_expired=False)
        base.update(changes)
        return ready_merchant(tx).id, ProductFacts(**base), NOW
    return setup


CASES = [
    ("subject.unknown", _unknown),
    ("subject.inactive", _pending),
    ("realname.unverified", _unverified),
    ("realname.overdue", _overdue),
    ("licence.missing", _no_licence),
    ("licence.missing", _expired_licence),
    ("licence.missing", _wrong_licence),
    ("commitment.missing", _unverified),
    ("commitment.missing", _breached),
    ("list.blacklisted", _blacklisted),
    ("category.unknown", _facts(category="firearms")),
    ("product.no_production", _facts(has_production=False)),
    ("product.no_inspection", _facts(has_inspection=False)),
    ("batch.recalled", _facts(batch_recalled=True)),
    ("batch.expired", _facts(batch_expired=True)),
]


def test_every_reason_code_is_covered() -> None:
    assert {code for code, _ in CASES} == set(REASONS)


@pytest.mark.parametrize("code,setup", CASES, ids=[f"{c}-{s.__name__}" for c, s in CASES])
def test_each_failed_condition_gives_its_reason(
    tx: Tx, db_session: Session, code: str, setup: Callable[..., Any]
) -> None:
    merchant_id, facts, at = setup(tx, db_session)
    answer = check_eligibility(db_session, merchant_id, facts, at)
    assert not answer.eligible
    assert code in [r.code for r in answer.reasons]
    reason = next(r for r in answer.reasons if r.code == code)
    assert reason.zh and reason.en and "{" not in reason.zh + reason.en


def test_general_goods_need_no_licence_and_no_inspection(tx: Tx, db_session: Session) -> None:
    merchant = ready_merchant(tx, licence=None)
    assert _codes(db_session, merchant.id, ProductFacts("general", True, False, False, False)) == []


def test_eligibility_uses_only_index_lookups(tx: Tx, db_session: Session) -> None:
    merchant_id = ready_merchant(tx).id
    db_session.expunge_all()  # the subject is read from the database, not the identity map
    connection = db_session.connection()
    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    event.listen(connection, "before_cursor_execute", capture)
    try:
        check_eligibility(db_session, merchant_id, FOOD, NOW)
    finally:
        event.remove(connection, "before_cursor_execute", capture)
    assert len(seen) == 4  # subject, licence, commitment, black list
    if connection.dialect.name == "sqlite":
        for statement, parameters in seen:
            plan = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
            details = " | ".join(str(row[-1]) for row in plan)
            assert "SEARCH" in details and "SCAN" not in details, (statement, details)
            if "credit_list_entries" in statement:
                # Without statistics SQLite once chose the (list_kind, status) index and read
                # every active black-list entry (bench/credit_bench.py: p99 250 ms at 1M).
                assert "ix_credit_list_entries_lookup" in details, details
        return
    # PostgreSQL chooses sequential scans on tiny tables by cost; forbidding them shows
    # whether an index serves each query (a query no index serves still seq-scans).
    connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    for statement, parameters in seen:
        plan = connection.exec_driver_sql("EXPLAIN " + statement, parameters).all()
        details = " | ".join(str(row[0]) for row in plan)
        assert "Index" in details and "Seq Scan" not in details, (statement, details)
