"""The consumer scan page on the demo world: verdicts, journey, scan counts, forms, language."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import inspect
from sqlalchemy.orm import Session

from labels.keys import LabelSigningKey
from labels.signing import sign_label
from ledger.actor import Actor
from ledger.sequencer import write_transaction
from trace import label_keys, services
from web.demo import GTIN, LOT, ORDERS, receipt_code


@pytest.fixture
def urls(app: Flask) -> list[str]:
    output = app.test_cli_runner().invoke(args=["demo", "load", "--base-url", "http://x"]).output
    return [line.removeprefix("http://x") for line in output.splitlines()
            if line.startswith("http://x/01/")]


def _outcome(html: str) -> str:
    found = re.search(r'data-outcome="(\w+)"', html)
    assert found, html[:500]
    return found.group(1)


def _get(client: FlaskClient, path: str, city: str = "遂宁", **kw: str) -> str:
    response = client.get(path, headers={"X-Geo-City": city}, **kw)  # type: ignore[arg-type]
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_authentic_item_shows_verdict_product_credit_and_whole_journey(
    client: FlaskClient, urls: list[str]
) -> None:
    html = _get(client, urls[0])
    assert _outcome(html) == "authentic"
    assert "正品" in html and "遂宁天然矿泉水" in html and "信用等级" in html
    assert "食品生产许可证" in html and "青岛海边好物旗舰店" in html
    kinds = re.findall(r'<li data-kind="(\w+)"', html)
    assert kinds[:2] == ["production", "inspection"] and kinds[-2:] == ["signing", "review"]
    assert "此码已被查询 1 次，首次查询于" in html and "遂宁" in html


def test_scan_count_grows_and_keeps_the_first_city(client: FlaskClient, urls: list[str]) -> None:
    _get(client, urls[3], city="绵阳")
    html = _get(client, urls[3], city="遂宁")
    assert "此码已被查询 2 次" in html and "（绵阳）" in html


def test_cloned_label_scanned_in_far_apart_cities_is_suspicious(client: FlaskClient,
                                                                 urls: list[str]) -> None:
    html = _get(client, urls[2])
    assert _outcome(html) == "suspicious"
    assert "scan.far_apart" in html


@pytest.mark.parametrize("tamper", ["signature", "serial"])
def test_tampered_labels_are_counterfeit(client: FlaskClient, urls: list[str], tamper: str) -> None:
    url = urls[0]
    if tamper == "signature":
        url = url.replace("&s=", "&s=A") [:-1]
    else:
        url = url.replace("/21/0000000001", "/21/0000000009")
    html = _get(client, url)
    assert _outcome(html) == "counterfeit" and "假冒" in html


def test_a_label_signed_for_a_serial_never_issued_is_counterfeit(
    app: Flask, client: FlaskClient, urls: list[str], db_session: Session
) -> None:
    producer = db_session.scalars(
        __import__("sqlalchemy").select(label_keys.LabelKeyRow.producer)).first()
    key = label_keys.signing_key(db_session, producer, app.config["MASTER_KEY"])
    forged = sign_label(GTIN, LOT, "0000009999", key).uri("http://x").removeprefix("http://x")
    html = _get(client, forged)
    assert _outcome(html) == "counterfeit" and "trace.unknown_serial" in html
    stranger = sign_label(GTIN, LOT, "0000000001", LabelSigningKey.generate())
    assert _outcome(_get(client, stranger.uri("http://x").removeprefix("http://x"))) == "counterfeit"


def test_a_recalled_batch_is_shown_as_recalled(app: Flask, client: FlaskClient, urls: list[str],
                                               db_session: Session) -> None:
    producer = db_session.scalars(
        __import__("sqlalchemy").select(label_keys.LabelKeyRow.producer)).first()
    assert _outcome(_get(client, urls[4])) != "recalled"  # cached until the batch changes
    with write_transaction(db_session, app.extensions["ledger_signer"]) as writer:
        services.record_event(writer, Actor(producer, "producer"), "recall",
                              {"gtin": GTIN, "lot": LOT, "reason": "瓶盖密封不良"})
    html = _get(client, urls[4])
    assert _outcome(html) == "recalled" and "已召回" in html


def test_english_switch_is_remembered(client: FlaskClient, urls: list[str]) -> None:
    html = _get(client, urls[0] + "&lang=en")
    assert "Authentic" in html and "Journey" in html and "正品" not in html
    assert "Authentic" in _get(client, urls[0])  # the cookie keeps English
    assert "正品" in _get(client, urls[0] + "&lang=zh")


def test_complaint_needs_the_receipt_code_and_is_recorded(client: FlaskClient,
                                                          urls: list[str]) -> None:
    malformed = client.post(urls[0], data={"action": "complaint", "receipt": "wrong:code",
                                           "text": "漏液"})
    assert malformed.status_code == 400 and 'data-code="trace.bad_event"' in malformed.get_data(
        as_text=True)
    wrong = client.post(urls[0], data={"action": "complaint", "receipt": "ab" * 32 + ":someone",
                                       "text": "漏液"})
    assert wrong.status_code == 400 and 'data-code="trace.proof_mismatch"' in wrong.get_data(
        as_text=True)
    accepted = client.post(urls[0], data={"action": "complaint", "text": "瓶身漏液",
                                          "receipt": receipt_code(ORDERS[1])})
    assert accepted.status_code == 200
    assert "投诉已记录" in accepted.get_data(as_text=True)
    kinds = re.findall(r'<li data-kind="(\w+)"', _get(client, urls[0]))
    assert kinds[-1] == "complaint"


def test_anyone_may_report_and_no_address_is_stored(app: Flask, client: FlaskClient,
                                                    urls: list[str]) -> None:
    response = client.post(urls[2], data={"action": "report", "text": "疑似假货"},
                           environ_base={"REMOTE_ADDR": "203.0.113.77"})
    assert "感谢举报" in response.get_data(as_text=True)
    engine = app.extensions["engine"]
    for table in ("trace_scans", "trace_scan_summaries"):
        columns = {c["name"] for c in inspect(engine).get_columns(table)}
        assert not columns & {"ip", "address", "remote_addr", "user_agent"}
    if engine.dialect.name == "sqlite":
        raw = Path(engine.url.database).read_bytes()
        assert b"203.0.113.77" not in raw


def test_forms_are_protected_against_cross_site_posts(tmp_path: Path, postgres_url) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import empty_tables, make_app

    app = make_app(tmp_path, postgres_url, WTF_CSRF_ENABLED=True)
    try:
        response = app.test_client().post("/01/06901234567892/10/L/21/S", data={"action": "report",
                                                                                 "text": "x"})
        assert response.status_code == 400 and "CSRF" in response.get_data(as_text=True)
    finally:
        if postgres_url is not None:
            empty_tables(app)
        app.extensions["engine"].dispose()


def _producer(db_session: Session) -> str:
    return db_session.scalars(
        __import__("sqlalchemy").select(label_keys.LabelKeyRow.producer)).first()


def test_appends_about_other_objects_keep_the_cached_verdict(
    app: Flask, client: FlaskClient, urls: list[str], db_session: Session,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    from credit import disclosure
    from trace import queries

    first = _get(client, urls[0])
    computed = {"history": 0, "badge": 0}
    history, badge = queries.item_history, disclosure.badge

    def counting_history(*args, **kwargs):  # type: ignore[no-untyped-def]
        computed["history"] += 1
        return history(*args, **kwargs)

    def counting_badge(*args, **kwargs):  # type: ignore[no-untyped-def]
        computed["badge"] += 1
        return badge(*args, **kwargs)

    monkeypatch.setattr(queries, "item_history", counting_history)
    monkeypatch.setattr(disclosure, "badge", counting_badge)
    size = re.search(r"已对照含 (\d+) 条记录的签名检查点验证", first)
    assert size is not None
    # Another batch of the same product: new entries, none about this item or its shop.
    with write_transaction(db_session, app.extensions["ledger_signer"]) as writer:
        services.create_batch(writer, Actor(_producer(db_session), "producer"), gtin=GTIN,
                              lot="OTHER1", production_date="2026-11-20")
    again = _get(client, urls[0])
    assert computed == {"history": 0, "badge": 0}
    assert _outcome(again) == "authentic"
    assert f"已对照含 {size.group(1)} 条记录" in again  # the checkpoint its proofs are against
    assert "此码已被查询 2 次" in again  # the count is still read per request


def test_an_event_on_the_item_or_its_shop_shows_at_the_next_scan(
    app: Flask, client: FlaskClient, urls: list[str], db_session: Session
) -> None:
    from credit import services as credit_services
    from datetime import datetime, timedelta, timezone

    before = _get(client, urls[0])
    assert "SC20261128777" not in before
    at = datetime.now(timezone.utc)
    with write_transaction(db_session, app.extensions["ledger_signer"]) as writer:
        credit_services.add_licence(
            writer, Actor("admin:test", "admin"), _producer(db_session), "food_production",
            "SC20261128777", "遂宁市市场监督管理局", at - timedelta(days=1),
            at + timedelta(days=365), now=at)
    assert "SC20261128777" in _get(client, urls[0])
    accepted = client.post(urls[0], data={"action": "complaint", "text": "瓶身漏液",
                                          "receipt": receipt_code(ORDERS[1])})
    assert accepted.status_code == 200
    kinds = re.findall(r'<li data-kind="(\w+)"', _get(client, urls[0]))
    assert kinds[-1] == "complaint"
