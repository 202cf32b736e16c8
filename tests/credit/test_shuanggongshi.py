"""双公示 CSV: import penalties and licences, export them back in the same field layout."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from credit import eligibility, records, rules, services
from credit.errors import BadImport
from credit.shuanggongshi import (CF_FIELDS, XK_FIELDS, export_licences, export_penalties,
                                  import_licences, import_penalties)
from ledger.models import LogEntry
from tests.credit.helpers import INSPECTOR, NOW, PLATFORM, USCC_A, USCC_B, Tx


def _csv(fields: tuple[str, ...], rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows([{f: row.get(f, "") for f in fields} for row in rows])
    return out.getvalue()


def _parse(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


PENALTIES = [
    {"CF_WSH": "京朝市监罚〔2026〕101号", "CF_CFMC": "销售不符合食品安全标准的食品案",
     "CF_CFLB1": "罚款;没收违法所得", "CF_SY": "销售超过保质期的食品", "CF_YJ": "《食品安全法》第一百二十四条",
     "CF_JG": "罚款人民币伍万元，没收违法所得", "CF_XDR_MC": "好味食品有限公司", "CF_XDR_SHXYM": USCC_A,
     "CF_FR": "王五", "CF_JDRQ": "2026-10-08", "CF_XZJG": "北京市朝阳区市场监督管理局", "CF_ZT": "0",
     "DFBM": "110105", "SJC": "2026-10-09", "CF_GSJZQ": "2027-04-08"},
    {"CF_WSH": "沪徐市监罚〔2026〕7号", "CF_CFMC": "无证生产案", "CF_CFLB1": "吊销许可证件",
     "CF_SY": "未取得许可从事食品生产", "CF_YJ": "《食品安全法》第一百二十二条", "CF_JG": "吊销食品生产许可证",
     "CF_XDR_MC": "某某食品厂", "CF_XDR_SHXYM": USCC_B, "CF_XDR_SFZ": "11010519491231002X",
     "CF_JDRQ": "2026/11/01", "CF_XZJG": "上海市徐汇区市场监督管理局", "CF_ZT": "0"},
]
WARNING = {"CF_WSH": "京朝市监罚〔2026〕102号", "CF_CFLB1": "警告", "CF_SY": "标签瑕疵",
           "CF_YJ": "《食品安全法》第一百二十五条", "CF_XDR_SHXYM": USCC_A, "CF_JDRQ": "2026-10-10",
           "CF_XZJG": "北京市朝阳区市场监督管理局"}
LICENCES = [
    {"XK_WSH": "JY11105000000001", "XK_XMMC": "食品经营许可", "XK_SPLB": "普通", "XK_NR": "预包装食品销售",
     "XK_XDR": "好味食品有限公司", "XK_XDR_SHXYM": USCC_A, "XK_FR": "王五", "XK_JDRQ": "2025-01-01",
     "XK_JZQ": "2029-12-31", "XK_XZJG": "北京市朝阳区市场监督管理局", "XK_ZT": "0", "DFBM": "110105",
     "SJC": "2025-01-02"},
]


def _subjects(tx: Tx) -> tuple[str, str]:
    with tx() as w:
        a = services.register_subject(w, PLATFORM, "merchant", "好味食品有限公司", USCC_A, now=NOW)
        b = services.register_subject(w, PLATFORM, "producer", "某某食品厂", USCC_B, now=NOW)
    return a.id, b.id


def test_penalties_round_trip_and_personal_ids_stay_out(tx: Tx, db_session: Session) -> None:
    a, b = _subjects(tx)
    with tx() as w:
        report = import_penalties(w, INSPECTOR, _csv(CF_FIELDS, PENALTIES), now=NOW)
    assert len(report.created) == 2 and report.skipped == []
    exported = _parse(export_penalties(db_session, now=NOW))
    expected = [{f: row.get(f, "") for f in CF_FIELDS} for row in PENALTIES]
    expected[1]["CF_XDR_SFZ"] = ""  # the ID number never enters the ledger
    assert exported == expected
    ledger_bytes = b"".join(db_session.scalars(select(LogEntry.data)))
    assert "好味食品有限公司".encode() in ledger_bytes and b"11010519491231002X" not in ledger_bytes
    # severity from the penalty types; 公示截止期 sets the end (inclusive day)
    [fine] = records.records_in_effect(db_session, a, NOW)
    [revocation] = records.records_in_effect(db_session, b, NOW)
    assert (fine.severity, revocation.severity) == ("general", "serious")
    assert rules.utc(fine.end).astimezone(rules.CST).isoformat() == "2027-04-09T00:00:00+08:00"
    assert rules.utc(revocation.end) == rules.add_months(rules.utc(revocation.start), 36)


def test_a_warning_alone_is_imported_but_not_published(tx: Tx, db_session: Session) -> None:
    a, _ = _subjects(tx)
    with tx() as w:
        import_penalties(w, INSPECTOR, _csv(CF_FIELDS, [WARNING]), now=NOW)
    [warning] = records.records_in_effect(db_session, a, NOW)
    assert warning.severity == "minor" and not warning.public
    assert _parse(export_penalties(db_session, now=NOW)) == []


def test_import_reports_unknown_subjects_duplicates_and_revoked_rows(tx: Tx) -> None:
    _subjects(tx)
    rows = [PENALTIES[0], PENALTIES[0], dict(PENALTIES[1], CF_ZT="1"),
            dict(PENALTIES[0], CF_WSH="x", CF_XDR_SHXYM="91370000728611939A"),
            dict(PENALTIES[0], CF_WSH="y", CF_JDRQ="soon")]
    with tx() as w:
        report = import_penalties(w, INSPECTOR, "\ufeff" + _csv(CF_FIELDS, rows), now=NOW)
    assert len(report.created) == 1
    assert [(n, reason.split(":")[0]) for n, _, reason in report.skipped] == [
        (3, "credit.duplicate"), (4, "status_1"), (5, "credit.not_found"), (6, "bad_value")]


def test_import_refuses_a_header_without_the_required_fields(tx: Tx) -> None:
    with pytest.raises(BadImport, match="CF_XDR_SHXYM"), tx() as w:
        import_penalties(w, INSPECTOR, "CF_WSH,CF_SY\r\n1,2\r\n", now=NOW)


def test_licences_round_trip_and_make_the_merchant_licensed(tx: Tx, db_session: Session) -> None:
    a, _ = _subjects(tx)
    with tx() as w:
        report = import_licences(w, PLATFORM, _csv(XK_FIELDS, LICENCES), now=NOW)
    assert len(report.created) == 1
    expected = [{f: row.get(f, "") for f in XK_FIELDS} for row in LICENCES]
    assert _parse(export_licences(db_session, now=NOW)) == expected
    [licence] = services.valid_licences(db_session, a, NOW)
    assert licence.licence_type == "food_business"
    last_day = rules.utc(licence.valid_until) - timedelta(seconds=1)
    assert last_day.astimezone(rules.CST).date().isoformat() == "2029-12-31"
    facts = eligibility.ProductFacts("food", True, True, False, False)
    codes = [r.code for r in eligibility.check_eligibility(db_session, a, facts, NOW).reasons]
    assert "licence.missing" not in codes


def test_own_records_export_in_the_same_layout(tx: Tx, db_session: Session) -> None:
    a, _ = _subjects(tx)
    with tx() as w:
        records.add_record(w, INSPECTOR, a, polarity="negative", source="regulator",
                           basis="《电子商务法》第七十七条", facts="未公示营业执照", severity="general",
                           decided_at=NOW, now=NOW, authority="某局", decision_no="某罚〔2026〕9号")
    [row] = _parse(export_penalties(db_session, now=NOW))
    assert list(row) == list(CF_FIELDS)
    assert (row["CF_WSH"], row["CF_XDR_SHXYM"], row["CF_JDRQ"], row["CF_GSJZQ"]) == (
        "某罚〔2026〕9号", USCC_A, "2026-11-28", "2027-11-27")
