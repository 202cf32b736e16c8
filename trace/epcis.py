"""EPCIS 2.0 JSON-LD: the bizStep mapping, schema validation, and export of histories.

:data:`VOCABULARY` is the one mapping table between our event kinds and EPCIS
(event type, action, CBV 2.0 bizStep and disposition); docs/epcis.md shows it.
Listing, payment, reviews, complaints, refunds, compensation and recall have no
CBV bizStep (CBV 2.0 §7.2): they use our own URIs under :data:`NS`, as EPCIS
2.0 §7.3.5.1 allows for non-CBV vocabulary.

Export (:func:`export_item`, :func:`export_batch`) turns a proven history into an
``EPCISDocument`` whose events carry GS1 Digital Link EPCs (``https://id.gs1.org``
or our resolver), ``eventID`` = the CBV 2.0 event hash, and ``tl:ledgerIndex``.
A corrected event carries an EPCIS ``errorDeclaration`` instead of being removed.
Captured events are exported as they were captured.  Capture is in
:mod:`trace.epcis_capture`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jsonschema_rs
from sqlalchemy.orm import Session

from labels.digital_link import CANONICAL_BASE, percent_encode
from ledger.entry import Entry, parse_entry
from ledger.store import get_entry
from trace import identifiers as ids
from trace import queries as q
from trace.epcis_hash import event_hash
from trace.events import event_time, short_kind

__all__ = [
    "EPCIS_CONTEXT",
    "NS",
    "VOCABULARY",
    "EpcisSchema",
    "export_item",
    "export_batch",
    "document",
]

# EPCIS 2.0 §9.5: the standard JSON-LD context (loaded locally by validators, never fetched).
EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
NS = "urn:trace-labels:epcis:"  # our vocabulary and extension namespace, prefix "tl"
_OWN = NS + "bizstep:"


@dataclass(frozen=True)
class Term:
    """How one of our kinds is expressed in EPCIS."""

    event_type: str
    action: str | None
    biz_step: str  # a CBV 2.0 bare term, or one of our URIs
    disposition: str | None


# kind -> EPCIS expression.  CBV 2.0 §7.2 (BizStep) and §7.3 (Disp) bare terms.
VOCABULARY: dict[str, Term] = {
    "production": Term("ObjectEvent", "ADD", "commissioning", "active"),
    "serialisation": Term("ObjectEvent", "ADD", "commissioning", "active"),
    "inspection": Term("ObjectEvent", "OBSERVE", "inspecting", None),  # conformant / non_conformant
    "aggregation": Term("AggregationEvent", "ADD", "packing", "in_progress"),
    "disaggregation": Term("AggregationEvent", "DELETE", "unpacking", None),
    "listing": Term("ObjectEvent", "OBSERVE", _OWN + "listing", "sellable_accessible"),
    "sale": Term("TransactionEvent", "ADD", "retail_selling", "retail_sold"),
    "payment": Term("TransactionEvent", "ADD", _OWN + "payment", None),
    "shipment": Term("ObjectEvent", "OBSERVE", "shipping", "in_transit"),
    "delivery_scan": Term("ObjectEvent", "OBSERVE", "arriving", "in_transit"),
    "signing": Term("ObjectEvent", "OBSERVE", "receiving", None),
    "review": Term("ObjectEvent", "OBSERVE", _OWN + "review", None),
    "follow_up_review": Term("ObjectEvent", "OBSERVE", _OWN + "follow_up_review", None),
    "complaint": Term("ObjectEvent", "OBSERVE", _OWN + "complaint", None),
    "return": Term("ObjectEvent", "OBSERVE", "receiving", "returned"),
    "refund": Term("TransactionEvent", "ADD", _OWN + "refund", None),
    "compensation": Term("TransactionEvent", "ADD", _OWN + "compensation", None),
    "recall": Term("ObjectEvent", "OBSERVE", _OWN + "recall", "recalled"),
}
# Body fields exported as extensions ``tl:<field>`` (never commitments' openings: none are stored).
_EXTENSIONS = (
    "platform",
    "shop_id",
    "listing_id",
    "order_id",
    "buyer_commitment",
    "price_cents",
    "currency",
    "institution",
    "reference",
    "amount_cents",
    "carrier",
    "weight_g",
    "signer_commitment",
    "photo_sha256",
    "rating",
    "text",
    "review_index",
    "category",
    "reason",
    "rma",
    "complaint_index",
    "report_no",
    "inspecting_body",
    "by",
    "commitment",
)


_PACKAGED: EpcisSchema | None = None


class EpcisSchema:
    """The EPCIS 2.0 JSON schema (draft-07), with date-time and uri format checks.

    Checked by jsonschema_rs (Rust): GS1's schema nests ``if``/``anyOf``/``propertyNames``/
    ``$ref`` deeply, and the pure-Python ``jsonschema`` spent 1.0-1.7 ms per event on it,
    64-72 % of capture time (docs/performance.md, Trace).  Format checks are off by default
    in draft 7 validators, so they are turned on explicitly (``validate_formats``).
    """

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self._validator = jsonschema_rs.Draft7Validator(dict(schema), validate_formats=True)

    @classmethod
    def from_file(cls, path: str | Path) -> EpcisSchema:
        """Load the inlined schema ``EPCIS-JSON-Schema.json`` from ``path``."""
        return cls(json.loads(Path(path).read_text(encoding="utf-8")))

    @classmethod
    def packaged(cls) -> EpcisSchema:
        """Return GS1's schema shipped in ``trace/standards`` (loaded once per process)."""
        global _PACKAGED
        if _PACKAGED is None:
            _PACKAGED = cls.from_file(Path(__file__).with_name("standards")
                                      / "EPCIS-JSON-Schema.json")
        return _PACKAGED

    def problems(self, document: Any) -> list[str]:
        """Return every schema problem of ``document`` as ``"<json path>: <message>"``."""
        out = []
        for error in sorted(
            self._validator.iter_errors(document), key=lambda e: list(map(str, e.instance_path))
        ):
            path = "/".join(str(p) for p in error.instance_path) or "(document)"
            out.append(f"{path}: {error.message}")
        return out


def _uri(value: str, kind: str) -> str:
    return f"{NS}{kind}:{percent_encode(value)}"


def _epcs(event: dict[str, Any], entry: Entry, base: str) -> None:
    body = entry.body
    if "sscc" in body:
        event["epcList"] = [ids.sscc_uri(body["sscc"], base)]
    elif "serial" in body:
        event["epcList"] = [ids.item_uri(body["gtin"], body["lot"], body["serial"], base)]
    else:
        event["quantityList"] = [{"epcClass": ids.batch_uri(body["gtin"], body["lot"], base)}]


def _native(entry: Entry, index: int, base: str) -> dict[str, Any]:
    kind = short_kind(entry.kind)
    term = VOCABULARY[kind]
    body = entry.body
    when = datetime.fromisoformat(entry.time)
    offset = when.strftime("%z")
    event: dict[str, Any] = {
        "type": term.event_type,
        "eventTime": entry.time,
        "eventTimeZoneOffset": f"{offset[:3]}:{offset[3:]}" if offset else "+00:00",
    }
    if term.event_type == "AggregationEvent":
        event["parentID"] = ids.sscc_uri(body["sscc"], base)
        children = [
            ids.item_uri(i["gtin"], i["lot"], i["serial"], base) for i in body.get("items", [])
        ]
        children += [ids.sscc_uri(u, base) for u in body.get("units", [])]
        if children:
            event["childEPCs"] = children
    else:
        _epcs(event, entry, base)
    if term.action:
        event["action"] = term.action
    event["bizStep"] = term.biz_step
    disposition = term.disposition
    if kind == "inspection":
        disposition = "conformant" if body["result"] == "pass" else "non_conformant"
    if disposition:
        event["disposition"] = disposition
    place = body.get("place")
    if place:
        event["readPoint"] = {
            "id": (
                ids.gln_uri(place) if place.isdigit() and len(place) == 13 else _uri(place, "place")
            )
        }
    transactions = []
    if "order_id" in body:
        transactions.append({"type": "po", "bizTransaction": _uri(body["order_id"], "order")})
    if "waybill" in body:
        transactions.append(
            {
                "type": "desadv",
                "bizTransaction": _uri(f"{body['carrier']}/{body['waybill']}", "waybill"),
            }
        )
    if kind == "payment":
        transactions.append(
            {
                "type": NS + "btt:payment",
                "bizTransaction": _uri(f"{body['institution']}/{body['reference']}", "payment"),
            }
        )
    if kind == "return" and "rma" in body:
        transactions.append({"type": "rma", "bizTransaction": _uri(body["rma"], "rma")})
    if kind == "signing":
        transactions.append({"type": "recadv", "bizTransaction": _uri(str(index), "receipt")})
    if transactions:
        event["bizTransactionList"] = transactions
    elif term.event_type == "TransactionEvent":  # EPCIS requires at least one
        event["bizTransactionList"] = [{"bizTransaction": _uri(str(index), "entry")}]
    if kind in ("production", "serialisation"):
        event["ilmd"] = {"cbvmda:lotNumber": body["lot"]}
        if "expiry_date" in body:
            event["ilmd"]["cbvmda:itemExpirationDate"] = body["expiry_date"]
    for name in _EXTENSIONS:
        if name in body:
            event[f"tl:{name}"] = body[name]
    return event


def _captured(entry: Entry) -> tuple[dict[str, Any], list[Any]]:
    event = json.loads(entry.body["event"])
    context = json.loads(entry.body["context"]) if entry.body.get("context") else []
    event.setdefault("eventID", entry.body["hash"])
    return event, context


def document(
    events: Sequence[dict[str, Any]], contexts: Sequence[Any] = (), now: datetime | None = None
) -> dict[str, Any]:
    """Wrap ``events`` in an EPCIS 2.0 ``EPCISDocument`` (EPCIS 2.0 §9.8)."""
    extra: list[Any] = [{"tl": NS}]
    for context in contexts:
        if context not in extra:
            extra.append(context)
    return {
        "@context": [EPCIS_CONTEXT, *extra],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": event_time(now or datetime.now(timezone.utc)),
        "epcisBody": {"eventList": list(events)},
    }


def _export(
    session: Session, history: q.History, base: str, now: datetime | None
) -> dict[str, Any]:
    events: list[dict[str, Any]] = []
    contexts: list[Any] = []
    for proven in history.events:
        kind = short_kind(proven.entry.kind)
        if kind == "correction" or (kind not in VOCABULARY and kind != "epcis"):
            continue  # corrections appear as errorDeclaration on what they correct
        if kind == "epcis":
            event, context = _captured(proven.entry)
            contexts += context
        else:
            event = _native(proven.entry, proven.index, base)
            event["tl:ledgerIndex"] = proven.index
            event = {"eventID": event_hash(event, {"tl": NS}), **event}
        if proven.corrected_by is not None and "errorDeclaration" not in event:
            correction = parse_entry(get_entry(session, proven.corrected_by).data)
            event["errorDeclaration"] = {
                "declarationTime": correction.time,
                "reason": "incorrect_data",
                "tl:reason": correction.body.get("reason", ""),
                "tl:ledgerIndex": proven.corrected_by,
            }
        events.append(event)
    return document(events, contexts, now)


def export_item(
    session: Session,
    gtin: str,
    lot: str,
    serial: str,
    *,
    base: str = CANONICAL_BASE,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Export an item's history (with its batch's events) as an EPCIS 2.0 document.

    ``base`` is the Digital Link host of the EPCs (``https://id.gs1.org`` or our resolver).

    :raises NotFound: if the item is unknown.
    """
    return _export(session, q.item_history(session, gtin, lot, serial), base, now)


def export_batch(
    session: Session,
    gtin: str,
    lot: str,
    *,
    base: str = CANONICAL_BASE,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Export a batch's own events (production, inspections, recall) as an EPCIS 2.0 document.

    :raises NotFound: if the batch is unknown.
    """
    return _export(session, q.batch_history(session, gtin, lot), base, now)
