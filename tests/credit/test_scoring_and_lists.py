"""Explainable score and grade; red and black lists, their dates and their effects."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from credit import lists, ratings, records, rules, scoring
from credit.errors import Conflict, Forbidden, TooEarly
from credit.models import GradeChange, Record
from credit.rules import add_months
from ledger.store import entries_of
from tests.credit.helpers import CONSUMER, INSPECTOR, NOW, PLATFORM, Tx, ready_merchant


def _serious(tx: Tx, subject_id: str) -> Record:
    with tx() as w:
        return records.add_record(w, INSPECTOR, subject_id, polarity="negative", source="regulator",
                                  basis="总局令第44号 第二条", facts="生产销售假冒伪劣商品",
                                  severity="serious", decided_at=NOW, now=NOW,
                                  authority="某市市场监管局", decision_no="某市监罚〔2026〕1号")


def test_score_lists_every_contribution(tx: Tx, db_session: Session) -> None:
    merchant = ready_merchant(tx)
    record = _serious(tx, merchant.id)
    score = scoring.compute_score(db_session, merchant.id, NOW)
    assert [(c.kind, c.ref, c.points) for c in score.contributions] == [
        ("base", None, 75), ("record", record.id, -40)]
    assert score.score == 35 and score.grade == "D"
    half = scoring.compute_score(db_session, merchant.id, NOW + timedelta(days=364))
    assert [c.points for c in half.contributions] == [75, -20]  # half-life one year
    assert half.grade == "C"  # 55, and a serious record caps the grade at C anyway
    assert "严重失信记录" in half.contributions[1].zh and "weight 50%" in half.contributions[1].en
    overdue = scoring.compute_score(db_session, merchant.id, NOW + timedelta(days=365))
    assert overdue.contributions[-1].kind == "identity" and overdue.contributions[-1].points == -5


def test_grade_thresholds_follow_the_tax_credit_grades() -> None:
    assert [rules.grade_for(s) for s in (100, 90, 89, 70, 69, 40, 39, 0)] == list("AABBCCDD")
    assert rules.grade_for(95, serious=True) == "C"
    assert rules.grade_for(95, black_listed=True) == "D"


def test_a_grade_change_is_a_ledger_entry_and_nothing_else_is(tx: Tx, db_session: Session) -> None:
    merchant = ready_merchant(tx)
    with tx() as w:
        assert scoring.refresh_grade(w, merchant.id, now=NOW).grade == "B"
    with tx() as w:
        scoring.refresh_grade(w, merchant.id, now=NOW + timedelta(days=1))  # unchanged: no entry
    _serious(tx, merchant.id)
    with tx() as w:
        scoring.refresh_grade(w, merchant.id, now=NOW)
    changes = [json.loads(e.data)["body"] for e in entries_of(db_session, f"subject:{merchant.id}")
               if e.kind == "credit.grade_changed"]
    assert [(c["previous"], c["grade"]) for c in changes] == [(None, "B"), ("B", "D")]
    assert changes[1]["contributions"][1]["points"] == -40
    assert db_session.query(GradeChange).count() == 2
    assert scoring.current_grade(db_session, merchant.id).grade == "D"  # type: ignore[union-attr]
    with pytest.raises(Forbidden), tx() as w:
        scoring.refresh_grade(w, merchant.id, now=NOW, actor=PLATFORM)


def test_serious_record_proposes_black_list_which_an_inspector_decides(
    tx: Tx, db_session: Session
) -> None:
    merchant = ready_merchant(tx)
    record = _serious(tx, merchant.id)
    with tx() as w:
        [proposal] = lists.propose_automatic(w, now=NOW)
    assert (proposal.list_kind, proposal.status) == ("black", "proposed")
    assert proposal.trigger["records"] == [record.id]
    with tx() as w:
        assert lists.propose_automatic(w, now=NOW) == []  # no second proposal
    assert not lists.is_blacklisted(db_session, merchant.id, NOW)
    with pytest.raises(Forbidden), tx() as w:
        lists.decide_list_entry(w, PLATFORM, proposal.id, True, "同意", now=NOW)
    with tx() as w:
        entry = lists.decide_list_entry(w, INSPECTOR, proposal.id, True, "列入严重违法失信名单",
                                        now=NOW)
    assert rules.utc(entry.earliest_removal) == add_months(NOW, 12)  # type: ignore[arg-type]
    assert rules.utc(entry.auto_end) == add_months(NOW, 36)  # type: ignore[arg-type]
    assert lists.is_blacklisted(db_session, merchant.id, NOW)


def test_list_entry_and_exit_are_by_date(tx: Tx, db_session: Session) -> None:
    merchant = ready_merchant(tx)
    start = NOW + timedelta(days=10)
    with tx() as w:
        entry = lists.propose_list_entry(w, INSPECTOR, merchant.id, "black", "拒不履行判决",
                                         "失信被执行人名单", now=NOW)
        lists.decide_list_entry(w, INSPECTOR, entry.id, True, "同意", now=NOW, start=start)
    end = add_months(start, 36)
    assert not lists.is_blacklisted(db_session, merchant.id, start - timedelta(seconds=1))
    assert lists.is_blacklisted(db_session, merchant.id, start)
    assert lists.is_blacklisted(db_session, merchant.id, end - timedelta(seconds=1))
    assert not lists.is_blacklisted(db_session, merchant.id, end)  # automatic end


def test_black_list_removal_waits_for_the_earliest_date(tx: Tx, db_session: Session) -> None:
    merchant = ready_merchant(tx)
    with tx() as w:
        entry = lists.propose_list_entry(w, INSPECTOR, merchant.id, "black", "r", "b", now=NOW)
        lists.decide_list_entry(w, INSPECTOR, entry.id, True, "同意", now=NOW)
    with pytest.raises(TooEarly), tx() as w:
        lists.remove_from_list(w, INSPECTOR, entry.id, "已修复", now=add_months(NOW, 11))
    with tx() as w:
        lists.remove_from_list(w, INSPECTOR, entry.id, "信用修复完成", now=add_months(NOW, 12))
    assert not lists.is_blacklisted(db_session, merchant.id, add_months(NOW, 12))
    with pytest.raises(Conflict), tx() as w:
        lists.remove_from_list(w, INSPECTOR, entry.id, "again", now=add_months(NOW, 13))


def test_grade_a_proposes_red_list_and_a_new_negative_record_removes_it(
    tx: Tx, db_session: Session
) -> None:
    merchant = ready_merchant(tx)
    with tx() as w:
        records.add_record(w, INSPECTOR, merchant.id, polarity="positive", source="regulator",
                           basis="守合同重信用企业", facts="公示", decided_at=NOW, now=NOW)
        for i in range(4):
            records.add_record(w, PLATFORM, merchant.id, polarity="positive", source="platform",
                               basis=f"优质商家{i}", facts="年度评选", decided_at=NOW, now=NOW)
        scoring.refresh_grade(w, merchant.id, now=NOW)  # 75 + 10 (positive cap) + 0 = 85: B
    assert scoring.current_grade(db_session, merchant.id).grade == "B"  # type: ignore[union-attr]
    # a red list entry adds 5: 90 -> A would need it; propose one manually, then check effects
    with tx() as w:
        entry = lists.propose_list_entry(w, INSPECTOR, merchant.id, "red", "守信激励", "平台规则",
                                         now=NOW)
        lists.decide_list_entry(w, INSPECTOR, entry.id, True, "同意", now=NOW)
        assert scoring.refresh_grade(w, merchant.id, now=NOW).grade == "A"
    assert lists.effects(db_session, merchant.id, NOW) == lists.Effects(
        False, True, "A", 1.2, 1, False)
    with tx() as w:
        assert lists.propose_automatic(w, now=NOW) == []  # already on the red list
    with tx() as w:
        records.add_record(w, PLATFORM, merchant.id, polarity="negative", source="platform",
                           basis="虚假发货", facts="x", severity="general", decided_at=NOW, now=NOW)
        lists.propose_automatic(w, now=NOW)
    assert not lists.is_redlisted(db_session, merchant.id, NOW)


def test_effects_of_the_black_list(tx: Tx, db_session: Session) -> None:
    merchant = ready_merchant(tx)
    with tx() as w:
        entry = lists.propose_list_entry(w, INSPECTOR, merchant.id, "black", "r", "b", now=NOW)
        lists.decide_list_entry(w, INSPECTOR, entry.id, True, "同意", now=NOW)
    assert lists.ranking_boost(db_session, merchant.id, NOW) == 0.0
    assert lists.inspection_frequency(db_session, merchant.id, NOW) == 12
    assert lists.shop_closure_flag(db_session, merchant.id, NOW) is True
    score = scoring.compute_score(db_session, merchant.id, NOW)
    assert score.grade == "D" and score.contributions[-1].kind == "list"
    assert lists.ranking_boost(db_session, merchant.id, add_months(NOW, 36)) == 1.0


def test_grade_a_is_proposed_for_the_red_list_once(tx: Tx, db_session: Session) -> None:
    merchant = ready_merchant(tx)
    parties = lambda order, party, role: True  # noqa: E731
    with tx() as w:
        for i in range(2):
            records.add_record(w, PLATFORM, merchant.id, polarity="positive", source="platform",
                               basis=f"优质商家{i}", facts="年度评选", decided_at=NOW, now=NOW)
        for i in range(6):
            ratings.rate(w, CONSUMER, order_id=f"o{i}", item_key=f"i{i}",
                         direction="buyer_to_seller", rater_id="consumer:1", ratee_id=merchant.id,
                         value="good", now=NOW, is_party=parties)
        score = scoring.refresh_grade(w, merchant.id, now=NOW)
    # 75 base + 6 (two positive records) + 8 (six good ratings, Beta-shrunk) = 89: B
    assert (score.score, score.grade) == (89, "B")
    with tx() as w:
        records.add_record(w, PLATFORM, merchant.id, polarity="positive", source="platform",
                           basis="优质商家2", facts="年度评选", decided_at=NOW, now=NOW)
        assert scoring.refresh_grade(w, merchant.id, now=NOW).grade == "A"
        [proposal] = lists.propose_automatic(w, now=NOW)
    assert (proposal.list_kind, proposal.trigger["grade"]) == ("red", "A")
    with tx() as w:
        lists.decide_list_entry(w, INSPECTOR, proposal.id, False, "观察期未满", now=NOW)
        assert lists.propose_automatic(w, now=NOW) == []  # the inspector has seen this one


def test_a_rejected_black_proposal_is_not_repeated_for_the_same_records(tx: Tx) -> None:
    merchant = ready_merchant(tx)
    _serious(tx, merchant.id)
    with tx() as w:
        [proposal] = lists.propose_automatic(w, now=NOW)
        lists.decide_list_entry(w, INSPECTOR, proposal.id, False, "情节较轻，不予列入", now=NOW)
        assert lists.propose_automatic(w, now=NOW) == []
    with tx() as w:  # a new serious record is a new trigger
        records.add_record(w, INSPECTOR, merchant.id, polarity="negative", source="regulator",
                           basis="再次售假", facts="x", severity="serious", decided_at=NOW, now=NOW)
        assert len(lists.propose_automatic(w, now=NOW)) == 1
