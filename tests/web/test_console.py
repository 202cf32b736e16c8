"""Producer and inspector consoles: login, pages, print runs with progress, verification, lists."""

from __future__ import annotations

import re
import time

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from credit import lists
from ledger.actor import Actor
from ledger.models import LogEntry
from ledger.sequencer import write_transaction
from web.demo import DEMO_PASSWORD, GTIN, LOT


@pytest.fixture
def demo(app: Flask) -> str:
    return app.test_cli_runner().invoke(args=["demo", "load"]).output


def _login(client: FlaskClient, role: str) -> None:
    response = client.post("/console/login", data={"username": f"demo-{role}",
                                                   "password": DEMO_PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)


def test_pages_need_a_login_and_the_right_role(client: FlaskClient, demo: str) -> None:
    assert client.get("/console/producer").status_code == 302
    wrong = client.post("/console/login", data={"username": "demo-producer", "password": "x" * 12})
    assert wrong.status_code == 401
    _login(client, "producer")
    assert client.get("/console/inspector").status_code == 403
    html = client.get("/console/producer").get_data(as_text=True)
    assert "遂宁天然矿泉水" in html and LOT in html and "信用等级" in html


def test_console_cookie_never_authenticates_the_api(client: FlaskClient, demo: str) -> None:
    _login(client, "producer")
    response = client.post("/api/v1/products", json={"gtin": GTIN, "name": "x", "category": "food"})
    assert response.status_code == 401


def test_producer_prints_a_run_from_the_console_and_sees_progress(
    client: FlaskClient, demo: str
) -> None:
    _login(client, "producer")
    response = client.post("/console/producer/print-runs", data={
        "gtin": GTIN, "lot": LOT, "count": "30", "format": "zpl"})
    assert response.status_code == 302
    run_id = response.headers["Location"].rsplit("#run-", 1)[1]
    deadline = time.monotonic() + 30
    while True:
        progress = client.get(f"/console/producer/print-runs/{run_id}/progress").json
        assert progress["done"] is None or 0 <= progress["done"] <= progress["count"] == 30
        if progress["finished"]:
            assert progress["done"] == 30
            break
        assert time.monotonic() < deadline
        time.sleep(0.1)
    download = client.get(f"/console/producer/print-runs/{run_id}/file")
    data = download.get_data()
    download.close()  # send_file streams the file; the client must close the response
    assert download.status_code == 200 and data.count(b"^XA") >= 30


def test_inspector_verifies_an_item_chain(client: FlaskClient, demo: str) -> None:
    _login(client, "inspector")
    html = client.post("/console/inspector/verify", data={
        "gtin": GTIN, "lot": LOT, "serial": "0000000001"}).get_data(as_text=True)
    assert 'id="verify-result" data-ok="True"' in html
    stages = re.findall(r'<li class="stage" data-ok="(\w+)"', html)
    assert stages == ["True"] * 4


def test_inspector_sees_a_rewritten_entry(app: Flask, client: FlaskClient, demo: str,
                                          db_session: Session) -> None:
    row = db_session.scalars(__import__("sqlalchemy").select(LogEntry).where(
        LogEntry.subject.like("item:%0000000001"), LogEntry.kind == "trace.sale")).one()
    db_session.execute(update(LogEntry).where(LogEntry.idx == row.idx)
                       .values(data=row.data.replace(b'"price_cents":350', b'"price_cents":1')))
    db_session.commit()
    _login(client, "inspector")
    html = client.post("/console/inspector/verify", data={
        "gtin": GTIN, "lot": LOT, "serial": "0000000001"}).get_data(as_text=True)
    assert 'id="verify-result" data-ok="False"' in html
    assert f"entry {row.idx}: bytes do not match" in html
    client.post("/console/inspector/audit")
    page = client.get("/console/inspector").get_data(as_text=True)
    assert 'id="audit-status" data-ok="False"' in page and str(row.idx) in page


def test_inspector_sees_risks_and_decides_a_black_list_proposal(
    app: Flask, client: FlaskClient, demo: str, db_session: Session
) -> None:
    from credit.services import find_by_uscc
    from web.demo import DEMO_USCC

    merchant = find_by_uscc(db_session, DEMO_USCC["merchant"]).id
    with write_transaction(db_session, app.extensions["ledger_signer"]) as writer:
        entry = lists.propose_list_entry(writer, Actor("subject:insp", "inspector"), merchant,
                                         "black", "售假", "市场监管总局令第44号",
                                         now=__import__("datetime").datetime.now(
                                             __import__("datetime").timezone.utc))
    _login(client, "inspector")
    page = client.get("/console/inspector").get_data(as_text=True)
    assert "scan.far_apart" in page and entry.id in page
    client.post(f"/console/inspector/lists/{entry.id}", data={"decision": "approve",
                                                              "note": "证据确凿"})
    db_session.expire_all()
    from credit.models import ListEntry

    assert db_session.get(ListEntry, entry.id).status == "active"
