"""Trace API: products, batches, serials, events, histories and EPCIS 2.0 (GS1 REST binding)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Response, current_app, jsonify, request

from labels.digital_link import parse_digital_link
from labels.errors import LabelError
from trace import epcis, epcis_capture, queries, services
from trace.events import Opening
from trace.identifiers import gtin as normalise_gtin
from web.api.spec import operation
from web.auth import current_actor
from web.db import get_session
from web.errors import RequestError
from web.glue import committed, to_json, writing

__all__: list[str] = []

_ID = {"type": "string", "minLength": 1, "maxLength": 20}
_DATE = {"type": "string", "format": "date"}
_AT = {"type": "string", "format": "date-time", "maxLength": 40}
PRODUCT_BODY = {
    "type": "object", "additionalProperties": False, "required": ["gtin", "name", "category"],
    "properties": {"gtin": _ID, "name": {"type": "string", "minLength": 1, "maxLength": 200},
                   "name_en": {"type": "string", "maxLength": 200},
                   "category": {"type": "string", "maxLength": 40},
                   "producer": {"type": "string", "maxLength": 200},
                   "attributes": {"type": "object", "maxProperties": 50},
                   "at": _AT},
}
BATCH_BODY = {
    "type": "object", "additionalProperties": False,
    "required": ["gtin", "lot", "production_date"],
    "properties": {"gtin": _ID, "lot": _ID, "production_date": _DATE, "expiry_date": _DATE,
                   "place": {"type": "string", "maxLength": 13}, "at": _AT},
}
SERIALS_BODY = {
    "type": "object", "additionalProperties": False, "required": ["gtin", "lot", "serials"],
    "properties": {"gtin": _ID, "lot": _ID, "at": _AT,
                   "serials": {"type": "array", "minItems": 1, "maxItems": 100_000,
                               "items": _ID}},
}
EVENT_BODY = {
    "type": "object", "required": ["kind"],
    "properties": {"kind": {"type": "string", "minLength": 1, "maxLength": 40}, "at": _AT,
                   "proof": {"type": "object", "additionalProperties": False,
                             "required": ["salt", "value"],
                             "properties": {"salt": {"type": "string", "maxLength": 128},
                                            "value": {"type": "string", "maxLength": 400}}}},
}


@operation("/products", "POST", summary="Register a product (GTIN)", tag="trace",
           roles=("producer",), body=PRODUCT_BODY, status=201)
def create_product() -> tuple[Response, int]:
    """Register a product of the calling producer."""
    body = request.get_json()
    at = body.pop("at", None)
    actor = current_actor()
    index = committed(lambda w: services.register_product(w, actor, at=at, **body))
    return jsonify(gtin=normalise_gtin(body["gtin"]), index=index), 201


@operation("/batches", "POST", summary="Record the production of a batch (GTIN + lot)",
           tag="trace", roles=("producer",), body=BATCH_BODY, status=201)
def create_batch() -> tuple[Response, int]:
    """Commission a batch of one of the caller's products."""
    body = request.get_json()
    at = body.pop("at", None)
    actor = current_actor()
    index = committed(lambda w: services.create_batch(w, actor, at=at, **body))
    return jsonify(gtin=normalise_gtin(body["gtin"]), lot=body["lot"], index=index), 201


@operation("/serials", "POST", summary="Serialise items of a batch (up to 100,000 per request)",
           tag="trace", roles=("producer",), body=SERIALS_BODY, status=201)
def create_serials() -> tuple[Response, int]:
    """Record one serialisation event per item, all in one ledger batch."""
    body = request.get_json()
    actor = current_actor()
    indexes = committed(lambda w: services.serialise_items(
        w, actor, gtin=body["gtin"], lot=body["lot"], serials=body["serials"], at=body.get("at")))
    return jsonify(count=len(indexes), first_index=indexes.start,
                   last_index=indexes.stop - 1), 201


@operation("/events", "POST", summary="Record one lifecycle event", tag="trace",
           roles=("producer", "platform", "merchant", "logistics", "courier", "inspector"),
           body=EVENT_BODY, status=201)
def create_event() -> tuple[Response, int]:
    """Record an event (``{"kind": "sale", "gtin": ..., ...}``); the rules decide who may."""
    body = dict(request.get_json())
    kind, at, proof = body.pop("kind"), body.pop("at", None), body.pop("proof", None)
    opening = Opening(proof["salt"], proof["value"]) if proof else None
    actor = current_actor()
    index = committed(lambda w: services.record_event(w, actor, kind, body, at=at, proof=opening))
    return jsonify(index=index, kind=kind), 201


def _history_json(history: queries.History) -> dict[str, Any]:
    return {
        "tree_size": history.tree_size, "root": to_json(history.root),
        "checkpoint": history.checkpoint,
        "events": [{
            "index": e.index, "kind": e.kind, "level": e.level, "source": e.source,
            "via": e.via, "corrected_by": e.corrected_by,
            "entry": to_json(e.entry.raw), "decoded": dict(e.entry.body) | {
                "_kind": e.entry.kind, "_time": e.entry.time, "_actor": e.entry.actor},
            "leaf_hash": to_json(e.leaf_hash), "proof": [to_json(p) for p in e.proof],
        } for e in history.events],
    }


@operation("/items/<gtin>/<lot>/<serial>/history", "GET", tag="trace",
           summary="An item's history, each event with its inclusion proof")
def item_history(gtin: str, lot: str, serial: str) -> Response:
    """Return every event of the item with its ledger index and proof against the checkpoint."""
    history = queries.item_history(get_session(), normalise_gtin(gtin), lot, serial)
    return jsonify(_history_json(history))


@operation("/batches/<gtin>/<lot>/history", "GET", tag="trace", summary="A batch's history")
def batch_history(gtin: str, lot: str) -> Response:
    """Return the batch's own events (production, inspections, recall) with proofs."""
    return jsonify(_history_json(queries.batch_history(get_session(), normalise_gtin(gtin), lot)))


@operation("/batches/<gtin>/<lot>/where-used", "GET", tag="trace",
           summary="Items and logistic units a batch reached")
def where_used(gtin: str, lot: str) -> Response:
    """Return the items of the batch and every SSCC they went into."""
    return jsonify(to_json(queries.where_used(get_session(), normalise_gtin(gtin), lot)))


@operation("/batches/<gtin>/<lot>/recall-scope", "GET", tag="trace",
           roles=("producer", "platform", "inspector"),
           summary="Every shop, order and consumer commitment downstream of a batch")
def recall_scope(gtin: str, lot: str) -> Response:
    """Return whom a recall of the batch must reach."""
    return jsonify(to_json(queries.recall_scope(get_session(), normalise_gtin(gtin), lot)))


@operation("/epcis/capture", "POST", tag="epcis", status=201,
           roles=("producer", "platform", "merchant", "logistics", "inspector"),
           published_body=("application/ld+json", {
               "type": "object", "required": ["type", "schemaVersion", "epcisBody"],
               "properties": {"type": {"const": "EPCISDocument"},
                              "schemaVersion": {"type": "string"},
                              "creationDate": {"type": "string"},
                              "epcisBody": {"type": "object"}},
               "description": "An EPCIS 2.0 JSON-LD document, validated whole against "
                              "GS1's EPCIS 2.0 JSON schema"}),
           summary="Capture an EPCIS 2.0 JSON-LD document (GS1 REST binding)")
def epcis_capture_document() -> tuple[Response, int]:
    """Validate the document whole, then append its new events (idempotent by event hash)."""
    data = request.get_data(cache=False)
    if len(data) > 10 * 1024 * 1024:
        raise RequestError("an EPCIS document may be at most 10 MiB", code="request.too_large")
    with writing() as writer:
        result = epcis_capture.capture(writer, current_actor(), data,
                                       schema=epcis.EpcisSchema.packaged())
    return jsonify(to_json(result) | {"captured": len(result.captured),
                                      "duplicates": len(result.duplicates)}), 201


_EPCIS_QUERY = {"MATCH_epc": {"type": "string", "maxLength": 400},
                "EQ_bizStep": {"type": "string", "maxLength": 200},
                "GE_eventTime": {"type": "string", "maxLength": 40},
                "LT_eventTime": {"type": "string", "maxLength": 40}}


def _time_param(name: str) -> datetime | None:
    value = request.args.get(name)
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise RequestError(f"{name} must be an RFC 3339 date-time, got {value[:40]!r}",
                           code="request.invalid_parameter") from None
    if parsed.tzinfo is None:
        raise RequestError(f"{name} needs a time-zone offset", code="request.invalid_parameter")
    return parsed


@operation("/epcis/events", "GET", tag="epcis", query=_EPCIS_QUERY,
           required_query=("MATCH_epc",), summary="Query EPCIS events of an item or batch")
def epcis_events() -> Response:
    """Return an EPCIS 2.0 document of the events matching ``MATCH_epc`` and the filters."""
    try:
        link = parse_digital_link(request.args["MATCH_epc"])
    except LabelError as exc:
        raise RequestError(f"MATCH_epc: {exc.detail}", code="request.invalid_parameter") from None
    if not link.gtin or not link.lot:
        raise RequestError("MATCH_epc must name a batch (01 + 10) or an item (01 + 10 + 21)",
                           code="request.invalid_parameter")
    base = current_app.config["PUBLIC_BASE_URL"]
    session = get_session()
    if link.serial:
        doc = epcis.export_item(session, link.gtin, link.lot, link.serial, base=base)
    else:
        doc = epcis.export_batch(session, link.gtin, link.lot, base=base)
    since, until = _time_param("GE_eventTime"), _time_param("LT_eventTime")
    step = request.args.get("EQ_bizStep")
    events = doc["epcisBody"]["eventList"]
    doc["epcisBody"]["eventList"] = [
        e for e in events
        if (not step or e.get("bizStep") == step or e.get("bizStep", "").endswith(f"/{step}"))
        and (since is None or datetime.fromisoformat(e["eventTime"]) >= since)
        and (until is None or datetime.fromisoformat(e["eventTime"]) < until)
    ]
    return Response(to_json_bytes(doc), mimetype="application/ld+json")


def to_json_bytes(doc: dict[str, Any]) -> str:
    """Serialise an EPCIS document (UTF-8, no ASCII escaping)."""
    import json

    return json.dumps(doc, ensure_ascii=False)


