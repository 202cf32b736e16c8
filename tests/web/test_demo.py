"""``flask demo load``: the demo world, its label links and one token per role."""

from __future__ import annotations

from datetime import datetime, timezone

from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy.orm import Session

from credit import fund
from labels.digital_link import parse_digital_link
from labels.signing import verify_label
from ledger.audit import audit
from trace import label_keys, queries
from web.demo import GTIN, LOT, ROLES

ROLE_LINES = set(ROLES)


def _parse(output: str) -> tuple[list[str], dict[str, str]]:
    urls = [line for line in output.splitlines() if line.startswith("http://")]
    tokens = dict(line.split(" ", 1) for line in output.splitlines()
                  if line.split(" ", 1)[0] in ROLE_LINES)
    return urls, tokens


def test_demo_prints_signed_label_urls_and_a_working_token_per_role(
    app: Flask, runner: FlaskCliRunner, db_session: Session
) -> None:
    result = runner.invoke(args=["demo", "load", "--base-url", "http://127.0.0.1:5000"])
    assert result.exit_code == 0, result.output
    urls, tokens = _parse(result.output)
    assert len(urls) == 6 and set(tokens) == ROLE_LINES
    keyring = label_keys.keyring(db_session)
    for url in urls:
        assert url.startswith(f"http://127.0.0.1:5000/01/{GTIN}/10/{LOT}/21/")
        verify_label(parse_digital_link(url), keyring, datetime.now(timezone.utc))
    client = app.test_client()
    response = client.post("/api/v1/eligibility", json={"merchant": "nobody", "gtin": GTIN},
                           headers={"Authorization": f"Bearer {tokens['platform']}"})
    assert response.status_code == 200


def test_demo_items_walk_the_whole_life(runner: FlaskCliRunner, db_session: Session,
                                        signer) -> None:  # type: ignore[no-untyped-def]
    assert runner.invoke(args=["demo", "load"]).exit_code == 0
    first = [e.kind for e in queries.item_history(db_session, GTIN, LOT, "0000000001").events]
    for kind in ("production", "inspection", "serialisation", "listing", "sale", "payment",
                 "shipment", "delivery_scan", "signing", "review"):
        assert kind in first, (kind, first)
    second = [e.kind for e in queries.item_history(db_session, GTIN, LOT, "0000000002").events]
    assert "complaint" in second and "compensation" in second
    platform = queries.find_item(db_session, GTIN, LOT, "0000000002")["platform"]
    assert fund.balance(db_session, platform) == fund.ledger_balance(db_session, platform)
    assert audit(db_session, signer.vkey).size > 40


def test_loading_again_keeps_the_world_and_replaces_the_tokens(
    app: Flask, runner: FlaskCliRunner
) -> None:
    first = _parse(runner.invoke(args=["demo", "load"]).output)
    again = runner.invoke(args=["demo", "load"])
    assert again.exit_code == 0 and "already loaded" in again.output
    second = _parse(again.output)
    assert first[0] == second[0]  # the same labels (deterministic signatures)
    client = app.test_client()
    old = client.post("/api/v1/eligibility", json={"merchant": "x", "gtin": GTIN},
                      headers={"Authorization": f"Bearer {first[1]['platform']}"})
    assert old.status_code == 401
