"""Credit records: publication periods of the 2026 national rule, repair, breaches."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy.orm import Session

from credit import records, rules
from credit.errors import Conflict, Forbidden, InvalidInput, TooEarly
from credit.models import Commitment, Record
from credit.rules import add_months
from tests.credit.helpers import INSPECTOR, MERCHANT, NOW, PLATFORM, Tx, ready_merchant


def _record(tx: Tx, subject_id: str, severity: str, publish_months: int | None = None) -> Record:
    with tx() as w:
        return records.add_record(w, INSPECTOR, subject_id, polarity="negative", source="regulator",
                                  basis="食品安全法第一百二十四条", facts="销售超范围使用食品添加剂的食品",
                                  severity=severity, decided_at=NOW, now=NOW,
                                  authority="某区市场监管局", publish_months=publish_months)


@pytest.mark.parametrize("severity,minimum,maximum,published", [
    ("minor", 0, 3, False),  # 轻微: normally not published, at most 3 months
    ("general", 3, 12, True),  # 一般: 3 months to 1 year
    ("serious", 12, 36, True),  # 严重: 1 to 3 years
])
def test_publication_periods_follow_the_2026_repair_rule(
    tx: Tx, severity: str, minimum: int, maximum: int, published: bool
) -> None:
    merchant = ready_merchant(tx)
    record = _record(tx, merchant.id, severity)
    assert record.public is published
    assert rules.utc(record.earliest_repair) == add_months(NOW, minimum)
    assert rules.utc(record.end) == add_months(NOW, maximum)


def test_publication_can_be_shortened_only_within_the_range(tx: Tx) -> None:
    merchant = ready_merchant(tx)
    shortened = _record(tx, merchant.id, "general", publish_months=6)
    assert rules.utc(shortened.end) == add_months(NOW, 6)
    with pytest.raises(InvalidInput, match="3 to 12 months"):
        _record(tx, merchant.id, "general", publish_months=2)
    with pytest.raises(InvalidInput):
        _record(tx, merchant.id, "serious", publish_months=37)
    minor = _record(tx, merchant.id, "minor", publish_months=2)
    assert minor.public and rules.utc(minor.end) == add_months(NOW, 2)


def test_months_are_calendar_months_in_china_time() -> None:
    end_of_january = datetime(2026, 1, 31, 2, 0, tzinfo=timezone.utc)  # 10:00 CST
    assert add_months(end_of_january, 1) == datetime(2026, 2, 28, 2, 0, tzinfo=timezone.utc)
    late = datetime(2026, 1, 31, 17, 0, tzinfo=timezone.utc)  # already 1 Feb in CST
    # 1 Feb 01:00 CST + 1 month = 1 Mar 01:00 CST = 28 Feb 17:00 UTC
    assert add_months(late, 1) == datetime(2026, 2, 28, 17, 0, tzinfo=timezone.utc)


def test_record_leaves_effect_at_the_end_of_publication(tx: Tx, db_session: Session) -> None:
    merchant = ready_merchant(tx)
    record = _record(tx, merchant.id, "general")
    end = rules.utc(record.end)
    assert records.public_records(db_session, merchant.id, end - timedelta(seconds=1)) == [record]
    assert records.public_records(db_session, merchant.id, end) == []


def test_repair_is_too_early_before_the_minimum_period(tx: Tx, db_session: Session) -> None:
    merchant = ready_merchant(tx)
    record = _record(tx, merchant.id, "serious")
    too_early = add_months(NOW, 12) - timedelta(seconds=1)
    with pytest.raises(TooEarly), tx() as w:
        records.apply_repair(w, MERCHANT, record.id, ["整改报告"], now=too_early)
    later = add_months(NOW, 12)
    with tx() as w:
        repair = records.apply_repair(w, MERCHANT, record.id, ["整改报告", "信用修复承诺书"],
                                      now=later)
    with pytest.raises(Conflict), tx() as w:  # one pending application at a time
        records.apply_repair(w, MERCHANT, record.id, ["再次申请"], now=later)
    with pytest.raises(Forbidden), tx() as w:  # regulator records: the regulator decides
        records.decide_repair(w, PLATFORM, repair.id, True, "同意", now=later)
    with tx() as w:
        records.decide_repair(w, INSPECTOR, repair.id, True, "已整改到位", now=later)
    assert record.status == "repaired"
    assert records.public_records(db_session, merchant.id, later) == []


def test_minor_records_may_be_repaired_at_once(tx: Tx) -> None:
    merchant = ready_merchant(tx)
    record = _record(tx, merchant.id, "minor")
    with tx() as w:
        assert records.apply_repair(w, MERCHANT, record.id, ["已整改"], now=NOW).status == "pending"


def test_rejected_repair_keeps_the_record_published(tx: Tx, db_session: Session) -> None:
    merchant = ready_merchant(tx)
    record = _record(tx, merchant.id, "general")
    at = add_months(NOW, 4)
    with tx() as w:
        repair = records.apply_repair(w, MERCHANT, record.id, ["说明"], now=at)
        records.decide_repair(w, INSPECTOR, repair.id, False, "证据不足", now=at)
    assert record.status == "active"
    assert records.public_records(db_session, merchant.id, at) == [record]


def test_breach_of_a_commitment_creates_a_negative_record_referring_to_it(
    tx: Tx, db_session: Session
) -> None:
    merchant = ready_merchant(tx)
    commitment = db_session.query(Commitment).filter_by(subject_id=merchant.id).one()
    with tx() as w:
        record = records.record_commitment_breach(
            w, PLATFORM, commitment.id, basis="违反信用承诺：虚假宣传", facts="商品描述与实物不符",
            severity="general", now=NOW)
    assert (record.polarity, record.source, record.commitment_id) == (
        "negative", "platform", commitment.id)
    assert commitment.status == "breached" and commitment.breach_record_id == record.id
    with pytest.raises(Conflict), tx() as w:
        records.record_commitment_breach(w, PLATFORM, commitment.id, basis="x", facts="y",
                                         severity="minor", now=NOW)


def test_records_need_a_role_for_their_source_and_a_past_decision(tx: Tx) -> None:
    merchant = ready_merchant(tx)
    with pytest.raises(Forbidden), tx() as w:
        records.add_record(w, PLATFORM, merchant.id, polarity="negative", source="court",
                           basis="判决", facts="x", severity="serious", decided_at=NOW, now=NOW)
    with pytest.raises(InvalidInput), tx() as w:
        records.add_record(w, INSPECTOR, merchant.id, polarity="negative", source="regulator",
                           basis="依据", facts="x", severity="serious",
                           decided_at=NOW + timedelta(days=1), now=NOW)


def test_withdrawn_record_stops_counting(tx: Tx, db_session: Session) -> None:
    merchant = ready_merchant(tx)
    record = _record(tx, merchant.id, "general")
    with tx() as w:
        records.withdraw_record(w, INSPECTOR, record.id, "行政复议撤销原处罚决定", now=NOW)
    assert records.records_in_effect(db_session, merchant.id, NOW) == []
