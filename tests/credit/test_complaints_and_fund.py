"""Complaints with deadlines and escalation; the fund, advance compensation and its ledger."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from credit import complaints, fund, records
from credit.errors import Conflict, Duplicate, Forbidden, InsufficientFunds, InvalidInput
from credit.models import Complaint
from tests.credit.helpers import (CONSUMER, INSPECTOR, MERCHANT, NOW, PLATFORM, Tx,
                                  platform_subject, ready_merchant)

ITEM = "01/06901234567892/10/L2026/21/SN0001"


def _file(tx: Tx, merchant_id: str, kind: str = "complaint",
          claim_fen: int | None = 12_800) -> Complaint:
    with tx() as w:
        return complaints.file_complaint(
            w, CONSUMER, kind=kind, item_key=ITEM, merchant_id=merchant_id,
            complainant_id="consumer:1", category="quality", text="收到的商品已过期", now=NOW,
            claim_fen=claim_fen)


def test_filing_starts_the_answer_and_decision_clocks(tx: Tx, db_session: Session) -> None:
    merchant = ready_merchant(tx)
    case = _file(tx, merchant.id)
    assert case.status == "open"
    assert case.answer_due - case.filed_at == timedelta(days=3)
    assert case.decision_due - case.filed_at == timedelta(days=7)
    assert complaints.complaints_about_item(db_session, ITEM) == [case]


def test_late_answer_is_refused_and_the_case_escalates(tx: Tx, db_session: Session) -> None:
    merchant = ready_merchant(tx)
    case = _file(tx, merchant.id)
    late = NOW + timedelta(days=3, seconds=1)
    with pytest.raises(Conflict), tx() as w:
        complaints.answer_complaint(w, MERCHANT, case.id, "已处理", now=late)
    with tx() as w:
        assert complaints.escalate_overdue(w, NOW + timedelta(days=2)) == []
        assert complaints.escalate_overdue(w, late) == [case]
    assert (case.status, case.escalation_reason) == ("escalated", "answer_overdue")
    with pytest.raises(Forbidden), tx() as w:  # now the regulator decides
        complaints.decide_complaint(w, PLATFORM, case.id, "upheld", "属实", now=late)
    with tx() as w:
        complaints.decide_complaint(w, INSPECTOR, case.id, "upheld", "销售过期食品属实", now=late)
    [record] = records.records_in_effect(db_session, merchant.id, late)
    assert (record.source, record.complaint_id, record.severity) == ("regulator", case.id, "minor")


def test_answered_case_escalates_when_the_platform_does_not_decide(tx: Tx) -> None:
    merchant = ready_merchant(tx)
    case = _file(tx, merchant.id)
    with tx() as w:
        complaints.answer_complaint(w, MERCHANT, case.id, "同意退款", now=NOW + timedelta(days=1))
    with pytest.raises(Conflict), tx() as w:
        complaints.decide_complaint(w, PLATFORM, case.id, "rejected", "x",
                                    now=NOW + timedelta(days=8))
    with tx() as w:
        [escalated] = complaints.escalate_overdue(w, NOW + timedelta(days=8))
    assert escalated.escalation_reason == "decision_overdue"


def test_upheld_case_feeds_the_merchants_credit_record(tx: Tx, db_session: Session) -> None:
    merchant = ready_merchant(tx)
    report = _file(tx, merchant.id, kind="report", claim_fen=None)
    with tx() as w:
        complaints.decide_complaint(w, PLATFORM, report.id, "upheld", "售假属实", now=NOW)
    [record] = records.records_in_effect(db_session, merchant.id, NOW)
    assert (record.source, record.severity, record.complaint_id) == (
        "consumer_complaint", "general", report.id)
    assert report.record_id == record.id
    with pytest.raises(Conflict), tx() as w:
        complaints.decide_complaint(w, PLATFORM, report.id, "rejected", "again", now=NOW)


def test_advance_compensation_pays_first_and_recovers_from_the_merchant(
    tx: Tx, db_session: Session
) -> None:
    platform = platform_subject(tx)
    merchant = ready_merchant(tx)
    case = _file(tx, merchant.id)
    with pytest.raises(Conflict), tx() as w:  # not decided yet
        fund.open_claim(w, PLATFORM, case.id, platform_id=platform.id, now=NOW)
    with tx() as w:
        complaints.decide_complaint(w, PLATFORM, case.id, "upheld", "属实", now=NOW)
        claim = fund.open_claim(w, PLATFORM, case.id, platform_id=platform.id, now=NOW)
    with pytest.raises(Duplicate), tx() as w:
        fund.open_claim(w, PLATFORM, case.id, platform_id=platform.id, now=NOW)
    with pytest.raises(InsufficientFunds), tx() as w:
        fund.pay_claim(w, PLATFORM, claim.id, now=NOW)
    with tx() as w:
        fund.deposit(w, PLATFORM, platform.id, 100_000, now=NOW, note="消保保证金")
        fund.pay_claim(w, PLATFORM, claim.id, now=NOW)
    assert (claim.status, claim.paid_fen) == ("paid", 12_800)
    assert fund.balance(db_session, platform.id) == 100_000 - 12_800
    with pytest.raises(InvalidInput), tx() as w:
        fund.recover(w, PLATFORM, claim.id, 12_801, now=NOW)
    with tx() as w:
        fund.recover(w, PLATFORM, claim.id, 10_000, now=NOW + timedelta(days=1))
        fund.recover(w, PLATFORM, claim.id, 2_800, now=NOW + timedelta(days=2))
    assert claim.status == "recovered"
    assert fund.balance(db_session, platform.id) == 100_000


def test_fund_balance_always_equals_the_sum_of_its_ledger_entries(
    tx: Tx, db_session: Session
) -> None:
    platform = platform_subject(tx)
    merchant = ready_merchant(tx)
    with tx() as w:
        fund.deposit(w, PLATFORM, platform.id, 50_000, now=NOW)
    for amount in (1_000, 2_500, 700):
        case = _file(tx, merchant.id, claim_fen=amount)
        with tx() as w:
            complaints.decide_complaint(w, PLATFORM, case.id, "upheld", "属实", now=NOW)
            claim = fund.open_claim(w, PLATFORM, case.id, platform_id=platform.id, now=NOW)
            fund.pay_claim(w, PLATFORM, claim.id, now=NOW)
            fund.recover(w, PLATFORM, claim.id, amount // 2, now=NOW)
        assert fund.balance(db_session, platform.id) == fund.ledger_balance(db_session, platform.id)
    assert fund.ledger_balance(db_session, platform.id) == 50_000 - (4_200 - 2_100)


def test_fund_refuses_bad_amounts_and_roles(tx: Tx) -> None:
    platform = platform_subject(tx)
    merchant = ready_merchant(tx)
    for amount in (0, -5, 1.5, True):
        with pytest.raises(InvalidInput), tx() as w:
            fund.deposit(w, PLATFORM, platform.id, amount, now=NOW)  # type: ignore[arg-type]
    with pytest.raises(Forbidden), tx() as w:
        fund.deposit(w, MERCHANT, platform.id, 100, now=NOW)
    with pytest.raises(InvalidInput), tx() as w:  # only platforms hold a fund
        fund.deposit(w, PLATFORM, merchant.id, 100, now=NOW)
