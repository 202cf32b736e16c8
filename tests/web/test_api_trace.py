"""The trace API end to end: a product's life over HTTP, refusals, proofs and EPCIS."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from ledger import merkle, store
from ledger.actor import Actor
from trace.events import commit
from web.auth import issue_token

GTIN = "06901234567892"
EXAMPLES = Path(__file__).resolve().parents[1] / "vectors" / "epcis"


@pytest.fixture
def tokens(db_session: Session) -> dict[str, str]:
    actors = {"producer": Actor("subject:producer-1", "producer"),
              "merchant": Actor("subject:shop-1", "merchant"),
              "platform": Actor("subject:platform-1", "platform"),
              "logistics": Actor("subject:express-1", "logistics"),
              "courier": Actor("subject:courier-1", "courier"),
              "inspector": Actor("subject:inspector-1", "inspector")}
    issued = {role: issue_token(db_session, actor) for role, actor in actors.items()}
    db_session.commit()
    return issued


class Api:
    def __init__(self, client: FlaskClient, tokens: dict[str, str]) -> None:
        self.client, self.tokens = client, tokens

    def post(self, path: str, role: str, body: Any, status: int = 201) -> Any:
        response = self.client.post(f"/api/v1{path}", json=body,
                                    headers={"Authorization": f"Bearer {self.tokens[role]}"})
        assert response.status_code == status, response.get_data(as_text=True)
        return response.json


@pytest.fixture
def api(client: FlaskClient, tokens: dict[str, str]) -> Api:
    return Api(client, tokens)


def _produce(api: Api, serials: list[str]) -> None:
    api.post("/products", "producer", {"gtin": GTIN, "name": "遂宁矿泉水 550ml", "category": "food"})
    api.post("/batches", "producer", {"gtin": GTIN, "lot": "L2026A",
                                      "production_date": "2026-11-01", "expiry_date": "2027-11-01"})
    api.post("/serials", "producer", {"gtin": GTIN, "lot": "L2026A", "serials": serials})


def test_an_item_walks_its_whole_life_over_http(api: Api, client: FlaskClient,
                                                db_session: Session) -> None:
    _produce(api, ["S1", "S2"])
    item = {"gtin": GTIN, "lot": "L2026A", "serial": "S1"}
    api.post("/events", "inspector", {"kind": "inspection", "gtin": GTIN, "lot": "L2026A",
                                      "result": "pass", "report_no": "SN-2026-001",
                                      "inspecting_body": "遂宁市食品检验所"})
    api.post("/events", "merchant", item | {"kind": "listing", "platform": "subject:platform-1",
                                           "shop_id": "shop-1", "listing_id": "L-88"})
    buyer, _ = commit("buyer-account-123")
    api.post("/events", "merchant", item | {"kind": "sale", "order_id": "O-1",
                                           "buyer_commitment": buyer, "price_cents": 350,
                                           "currency": "CNY"})
    api.post("/events", "logistics", item | {"kind": "shipment", "waybill": "SF123",
                                            "carrier": "顺丰", "weight_g": 600})
    signer, opening = commit("13800000000")
    api.post("/events", "courier", item | {"kind": "signing", "signer_commitment": signer})
    history = client.get(f"/api/v1/items/{GTIN}/L2026A/S1/history").json
    kinds = [e["kind"] for e in history["events"]]
    for kind in ("production", "inspection", "listing", "sale", "shipment", "signing"):
        assert kind in kinds
    root = base64.b64decode(history["root"])
    for event in history["events"]:
        merkle.verify_inclusion(base64.b64decode(event["leaf_hash"]), event["index"],
                                history["tree_size"], [base64.b64decode(p) for p in event["proof"]],
                                root)
    assert history["tree_size"] == store.read_head(db_session).size


def test_a_sale_before_listing_is_refused_and_nothing_is_written(
    api: Api, db_session: Session
) -> None:
    _produce(api, ["S1"])
    size = store.read_head(db_session).size
    buyer, _ = commit("buyer")
    problem = api.post("/events", "merchant", {"kind": "sale", "gtin": GTIN, "lot": "L2026A",
                                               "serial": "S1", "order_id": "O-1",
                                               "buyer_commitment": buyer, "price_cents": 1,
                                               "currency": "CNY"}, status=409)
    assert problem["code"] == "trace.rule_violation"
    assert problem["reason"] == "trace.rule.sale_before_listing"
    assert problem["title_zh"] and problem["title_en"]
    db_session.expire_all()
    assert store.read_head(db_session).size == size


def test_a_courier_cannot_list(api: Api) -> None:
    _produce(api, ["S1"])
    problem = api.post("/events", "courier", {"kind": "listing", "gtin": GTIN, "lot": "L2026A",
                                              "serial": "S1", "platform": "p", "shop_id": "s",
                                              "listing_id": "l"}, status=403)
    assert problem["code"] in ("trace.forbidden_role", "auth.forbidden_role")


@pytest.mark.parametrize("body,code", [
    ({"gtin": "06901234567893", "name": "x", "category": "food"}, "trace.bad_identifier"),
    ({"gtin": GTIN, "name": "x"}, "request.invalid_body"),
    ({"gtin": GTIN, "name": "x", "category": "food", "evil": 1}, "request.invalid_body"),
    ({"gtin": GTIN, "name": "x", "category": "spaceships"}, "trace.bad_event"),
])
def test_invalid_products_are_400_problems(api: Api, body: dict[str, Any], code: str) -> None:
    problem = api.post("/products", "producer", body, status=400)
    assert problem["code"] == code


def test_a_body_that_is_not_json_is_refused(client: FlaskClient, tokens: dict[str, str]) -> None:
    response = client.post("/api/v1/products", data="gtin=1",
                           headers={"Authorization": f"Bearer {tokens['producer']}"})
    assert response.status_code == 400 and response.json["code"] == "request.not_json"


def test_epcis_capture_is_idempotent_and_queryable(api: Api, client: FlaskClient,
                                                   db_session: Session) -> None:
    document = json.loads((EXAMPLES / "Example_9.6.1-ObjectEvent.jsonld").read_text())
    first = api.post("/epcis/capture", "platform", document)
    assert first["captured"] >= 1
    size = store.read_head(db_session).size
    again = api.post("/epcis/capture", "platform", document)
    assert again["captured"] == 0 and again["duplicates"] == first["captured"]
    db_session.expire_all()
    assert store.read_head(db_session).size == size


def test_schema_invalid_epcis_is_refused_whole_with_problems(api: Api, db_session: Session) -> None:
    document = json.loads((EXAMPLES / "Example_9.6.1-ObjectEvent.jsonld").read_text())
    document["epcisBody"]["eventList"][0]["eventTime"] = "yesterday"
    problem = api.post("/epcis/capture", "platform", document, status=422)
    assert problem["code"] == "trace.epcis_invalid" and problem["problems"]
    assert store.read_head(db_session).size == 0


def test_epcis_query_by_digital_link(api: Api, client: FlaskClient) -> None:
    _produce(api, ["S1"])
    uri = f"https://id.gs1.org/01/{GTIN}/10/L2026A/21/S1"
    response = client.get("/api/v1/epcis/events", query_string={"MATCH_epc": uri})
    assert response.status_code == 200 and response.mimetype == "application/ld+json"
    events = response.json["epcisBody"]["eventList"]
    assert events and all(e["type"] for e in events)
    none = client.get("/api/v1/epcis/events", query_string={
        "MATCH_epc": uri, "LT_eventTime": "2000-01-01T00:00:00Z"}).json
    assert none["epcisBody"]["eventList"] == []
    bad = client.get("/api/v1/epcis/events", query_string={"MATCH_epc": "not a link"})
    assert bad.status_code == 400 and bad.json["code"] == "request.invalid_parameter"
