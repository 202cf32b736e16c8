"""Print runs and scratch-off PINs over HTTP, with the public endpoints rate-limited."""

from __future__ import annotations

import io
import zipfile

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from ledger.actor import Actor
from trace import pins
from trace.identifiers import item_subject
from web.auth import issue_token

GTIN, LOT = "06901234567892", "L2026A"


@pytest.fixture
def producer(client: FlaskClient, db_session: Session) -> dict[str, str]:
    token = issue_token(db_session, Actor("subject:producer-1", "producer"))
    other = issue_token(db_session, Actor("subject:producer-2", "producer"))
    db_session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    client.post("/api/v1/products", json={"gtin": GTIN, "name": "矿泉水", "category": "food"},
                headers=headers)
    client.post("/api/v1/batches", json={"gtin": GTIN, "lot": LOT,
                                         "production_date": "2026-11-01"}, headers=headers)
    return {"mine": token, "other": other}


def test_print_run_over_http_reserves_then_downloads(client: FlaskClient,
                                                     producer: dict[str, str]) -> None:
    headers = {"Authorization": f"Bearer {producer['mine']}"}
    run = client.post("/api/v1/print-runs", json={"gtin": GTIN, "lot": LOT, "count": 4},
                      headers=headers)
    assert run.status_code == 201, run.json
    assert (run.json["first_serial"], run.json["last_serial"]) == ("0000000001", "0000000004")
    download = client.get(run.json["downloads"]["svg-zip"], headers=headers)
    assert download.status_code == 200 and download.mimetype == "application/zip"
    assert len(zipfile.ZipFile(io.BytesIO(download.data)).namelist()) == 4
    pdf = client.get(run.json["downloads"]["pdf"], headers=headers)
    assert pdf.data.startswith(b"%PDF-")
    stranger = client.get(run.json["downloads"]["pdf"],
                          headers={"Authorization": f"Bearer {producer['other']}"})
    assert stranger.status_code == 403


def test_pin_check_first_use_then_already_used(app, client: FlaskClient,  # type: ignore[no-untyped-def]
                                               producer: dict[str, str],
                                               db_session: Session) -> None:
    headers = {"Authorization": f"Bearer {producer['mine']}"}
    client.post("/api/v1/serials", json={"gtin": GTIN, "lot": LOT, "serials": ["S1"]},
                headers=headers)
    issued = pins.issue_pins(db_session, [item_subject(GTIN, LOT, "S1")], app.config["MASTER_KEY"])
    db_session.commit()
    pin = next(iter(issued.values()))
    body = {"gtin": GTIN, "lot": LOT, "serial": "S1", "pin": pin}
    first = client.post("/api/v1/pins/check", json=body)
    assert first.status_code == 200 and first.json["status"] == "first_use"
    assert client.post("/api/v1/pins/check", json=body).json["status"] == "already_used"
    wrong = client.post("/api/v1/pins/check", json=body | {"pin": "00000000"})
    assert wrong.status_code == 400 and wrong.json["code"] == "labels.pin.wrong"


def test_pin_checks_are_rate_limited_per_client(client: FlaskClient) -> None:
    body = {"gtin": GTIN, "lot": LOT, "serial": "S9", "pin": "12345678"}
    codes = [client.post("/api/v1/pins/check", json=body).status_code for _ in range(12)]
    assert codes[-1] == 429 and 429 not in codes[:10]
    limited = client.post("/api/v1/pins/check", json=body)
    assert limited.json["code"] == "http.rate_limited" and "Retry-After" in limited.headers
