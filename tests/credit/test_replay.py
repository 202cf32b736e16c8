"""``flask ledger replay`` rebuilds every credit table identically from the entries."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask.testing import FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from credit import (complaints, fund, lists, pii, ratings, records, scoring, services,
                    shuanggongshi)
from credit.models import Commitment, PiiData, PiiKey
from credit.rules import add_months
from ledger import replay
from tests.credit.helpers import (ADMIN, CONSUMER, INSPECTOR, MASTER_KEY, MERCHANT, NOW, PLATFORM,
                                  USCC_B, Tx, platform_subject, ready_merchant)


def snapshot(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    """Return every row of every credit projection table (and the chain heads), in order."""
    tables = [t for p in replay.projections() for t in p.tables
              if t.name.startswith("credit_") or t.name == "ledger_objects"]
    return {t.name: [tuple(r) for r in session.execute(
        select(t).order_by(*t.primary_key.columns)).all()] for t in tables}


def _world(tx: Tx, session: Session) -> None:
    """Exercise every kind of credit entry."""
    platform = platform_subject(tx)
    shop = ready_merchant(tx)
    with tx() as w:
        seller = services.register_subject(w, PLATFORM, "individual_seller", "三哥小铺",
                                           real_name=pii.RealName("张三", "11010519491231002X"),
                                           now=NOW, master_key=MASTER_KEY)
        held = services.register_subject(w, PLATFORM, "producer", "厦门某厂", "91350211M00013FA1N",
                                         attest=True, now=NOW)
        services.resolve_verification(w, INSPECTOR, held.id, True, "核对营业执照", now=NOW)
        licence = services.add_licence(w, PLATFORM, held.id, "food_production", "SC1", "某局",
                                       NOW, NOW + timedelta(days=30), now=NOW)
        services.revoke_licence(w, INSPECTOR, licence.id, "注销", now=NOW)
        services.register_subject(w, PLATFORM, "producer", "某某食品厂", USCC_B, now=NOW)
        shuanggongshi.import_penalties(w, INSPECTOR, (
            "CF_WSH,CF_CFLB1,CF_SY,CF_YJ,CF_XDR_SHXYM,CF_JDRQ,CF_XZJG\r\n"
            f"罚1,罚款,超范围经营,食品安全法,{USCC_B},2026-11-01,某局\r\n"), now=NOW)
    commitment = session.scalars(select(Commitment).where(Commitment.subject_id == shop.id)).one()
    orders = lambda order, party, role: True  # noqa: E731 (every party is of every order here)
    with tx() as w:
        breach = records.record_commitment_breach(w, PLATFORM, commitment.id, basis="违反承诺",
                                                  facts="虚假宣传", severity="minor", now=NOW)
        repair = records.apply_repair(w, MERCHANT, breach.id, ["整改"], now=NOW)
        records.decide_repair(w, PLATFORM, repair.id, True, "已整改", now=NOW)
        serious = records.add_record(w, INSPECTOR, shop.id, polarity="negative", source="court",
                                     basis="判决", facts="售假", severity="serious",
                                     decided_at=NOW, now=NOW)
        records.withdraw_record(w, INSPECTOR, serious.id, "再审改判", now=NOW)
        for i in range(8):
            rating = ratings.rate(w, CONSUMER, order_id=f"o{i}", item_key=f"i{i % 3}",
                                  direction="buyer_to_seller", rater_id="consumer:1",
                                  ratee_id=shop.id, value="good" if i % 4 else "bad",
                                  now=NOW + timedelta(minutes=i), is_party=orders,
                                  dsr={"described": 4})
        ratings.add_followup(w, CONSUMER, rating.id, "consumer:1", "追评", now=NOW)
        ratings.rate(w, MERCHANT, order_id="o1", item_key="i1", direction="seller_to_buyer",
                     rater_id=shop.id, ratee_id="consumer:1", value="good", now=NOW,
                     is_party=orders)
        records.add_record(w, INSPECTOR, seller.id, polarity="negative", source="regulator",
                           basis="依据", facts="事实", severity="serious", decided_at=NOW, now=NOW)
        scoring.refresh_grade(w, shop.id, now=NOW)
        scoring.refresh_grade(w, seller.id, now=NOW)
        [proposal, *_] = lists.propose_automatic(w, now=NOW)
        lists.decide_list_entry(w, INSPECTOR, proposal.id, True, "同意", now=NOW)
        lists.remove_from_list(w, INSPECTOR, proposal.id, "修复", now=add_months(NOW, 12))
        case = complaints.file_complaint(w, CONSUMER, kind="complaint", item_key="item-1",
                                         merchant_id=shop.id, complainant_id="consumer:1",
                                         category="quality", text="变质", now=NOW, claim_fen=999)
        complaints.answer_complaint(w, MERCHANT, case.id, "同意退款", now=NOW)
        late = complaints.file_complaint(w, CONSUMER, kind="report", item_key="item-2",
                                         merchant_id=shop.id, complainant_id="consumer:2",
                                         category="fake", text="疑似假货", now=NOW)
        complaints.escalate_overdue(w, NOW + timedelta(days=4))
        complaints.decide_complaint(w, INSPECTOR, late.id, "rejected", "证据不足",
                                    now=NOW + timedelta(days=5))
        complaints.decide_complaint(w, PLATFORM, case.id, "upheld", "属实", now=NOW)
        fund.deposit(w, PLATFORM, platform.id, 10_000, now=NOW)
        claim = fund.open_claim(w, PLATFORM, case.id, platform_id=platform.id, now=NOW)
        fund.pay_claim(w, PLATFORM, claim.id, now=NOW)
        fund.recover(w, PLATFORM, claim.id, 500, now=NOW)
        services.erase_personal_data(w, ADMIN, seller.id, "注销账户", now=NOW)


def test_replay_rebuilds_the_credit_tables_identically(
    tx: Tx, db_session: Session, runner: FlaskCliRunner
) -> None:
    _world(tx, db_session)
    before = snapshot(db_session)
    assert all(before[name] for name in before if name != "credit_pii_keys"), \
        [name for name, rows in before.items() if not rows]
    vault = (db_session.query(PiiKey).count(), db_session.query(PiiData).count())
    db_session.rollback()
    result = runner.invoke(args=["ledger", "replay"])
    assert result.exit_code == 0, result.output
    assert "credit.subjects" in result.output and "credit.fund" in result.output
    db_session.expire_all()
    assert snapshot(db_session) == before
    # the off-ledger vault is not a projection: replay neither clears nor rebuilds it
    assert (db_session.query(PiiKey).count(), db_session.query(PiiData).count()) == vault
