"""Capture of EPCIS 2.0 JSON-LD documents: all or nothing, idempotent by event hash.

A document is parsed, validated against the EPCIS 2.0 JSON schema, and each event
is prepared (hash, objects, size) before anything is appended; any problem
refuses the whole document with the list of problems (:class:`EpcisInvalid`).

Each new event becomes one ``trace.epcis`` entry holding the event exactly as
received (RFC 8785 text), its CBV 2.0 event hash, the kind its bizStep maps to
(:data:`CAPTURED_AS`) and the objects it names.  An event whose hash is already
captured is reported as a duplicate and not written again; an event that comes
back with an ``errorDeclaration`` (EPCIS 2.0 §7.4.1.4, which keeps the hash)
becomes a ``trace.correction`` of the captured one.

Captured events are partners' observations: they appear in histories, and their
aggregations (packing into an SSCC) feed where-used and recall scope, but they
do not move an item through our lifecycle; only :func:`trace.services.record_event`
does, under the rules.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import rfc8785
from sqlalchemy import select
from sqlalchemy.orm import Session

from labels.digital_link import CANONICAL_BASE, parse_digital_link
from labels.errors import LabelError
from ledger.actor import Actor
from ledger.entry import MAX_ENTRY_SIZE
from ledger.models import LogEntry
from ledger.sequencer import LogWriter, NewEntry
from trace import identifiers as ids
from trace import queries as q
from trace.epcis import NS, EpcisSchema
from trace.epcis_hash import CBV, canonical_id, cbv_term, event_hash
from trace.errors import EpcisInvalid, ForbiddenRole
from trace.events import event_time, ledger_kind
from trace.models import EPCIS_EVENTS
from trace.projection import apply_appended

__all__ = ["CAPTURED_AS", "CAPTURE_ROLES", "Captured", "CaptureResult", "capture"]

CAPTURE_ROLES = frozenset({"producer", "merchant", "platform", "logistics", "inspector", "admin"})
# CBV 2.0 §7.2 bizStep (bare term) -> the kind a captured event is filed under.
CAPTURED_AS: dict[str, str] = {
    "commissioning": "production",
    "inspecting": "inspection",
    "sampling": "inspection",
    "packing": "aggregation",
    "unpacking": "disaggregation",
    "shipping": "shipment",
    "departing": "shipment",
    "loading": "shipment",
    "staging_outbound": "shipment",
    "transporting": "delivery_scan",
    "arriving": "delivery_scan",
    "unloading": "delivery_scan",
    "receiving": "receipt",
    "accepting": "receipt",
    "retail_selling": "sale",
    "dispensing": "sale",
    "decommissioning": "decommissioning",
    "destroying": "decommissioning",
}
_FRACTION = re.compile(r"(\.\d{6})\d+")
_OBJECT_LISTS = ("epcList", "inputEPCList", "outputEPCList", "childEPCs")
_CLASS_LISTS = ("quantityList", "inputQuantityList", "outputQuantityList", "childQuantityList")
_Object = tuple[str | None, str | None, str | None, str | None]  # gtin, lot, serial, sscc


@dataclass(frozen=True)
class Captured:
    """The outcome for one event: ``captured``, ``duplicate`` or ``error_declared``."""

    event_hash: str
    index: int
    status: str


@dataclass(frozen=True)
class CaptureResult:
    """The outcome of a capture, one :class:`Captured` per event in document order."""

    events: list[Captured]

    @property
    def captured(self) -> list[Captured]:
        """Return the events written by this capture."""
        return [e for e in self.events if e.status != "duplicate"]

    @property
    def duplicates(self) -> list[Captured]:
        """Return the events that were captured before (nothing written for them)."""
        return [e for e in self.events if e.status == "duplicate"]


@dataclass(frozen=True)
class _Prepared:
    hash: str
    time: str
    subject: str
    body: dict[str, Any]
    declaration: Mapping[str, Any] | None


def _parse(document: Mapping[str, Any] | str | bytes) -> Any:
    if isinstance(document, Mapping):
        return document

    def refuse(text: str) -> Any:
        raise ValueError(f"{text} is not valid JSON")

    try:
        return json.loads(document, parse_constant=refuse)
    except (ValueError, UnicodeDecodeError) as exc:
        raise EpcisInvalid("EPCIS document is not JSON", problems=[f"(document): {exc}"]) from None


def _prefixes(context: Any) -> tuple[dict[str, str], list[Any]]:
    """Return the document's prefix map and its non-standard context entries."""
    entries = context if isinstance(context, list) else [context]
    extra = [c for c in entries if isinstance(c, Mapping)]
    prefixes = {k: v for c in extra for k, v in c.items() if isinstance(v, str)}
    return prefixes, extra


def _biz_step_term(value: str | None) -> str | None:
    """Return a bizStep as its CBV bare term when it is one (any of its three spellings)."""
    if value is None:
        return None
    uri = cbv_term(value, "bizStep")
    return uri.removeprefix(CBV + "BizStep-") if uri.startswith(CBV + "BizStep-") else uri


def _mapped(event: Mapping[str, Any]) -> str:
    step = _biz_step_term(event.get("bizStep"))
    if step is None:
        return "observation"
    if step.startswith(NS + "bizstep:"):
        return step.removeprefix(NS + "bizstep:")
    kind = CAPTURED_AS.get(step, "observation")
    if kind == "production" and event.get("epcList"):
        return "serialisation"
    if kind == "receipt" and cbv_term(str(event.get("disposition", "")), "disposition").endswith(
        "Disp-returned"
    ):
        return "return"
    return kind


def _object(session: Session, uri: str) -> _Object | None:
    """Return what an EPC or EPC class names among our identifiers, if anything."""
    canonical = canonical_id(uri)
    if not canonical.startswith(CANONICAL_BASE + "/"):
        return None
    try:
        link = parse_digital_link(uri if uri.startswith("http") else canonical)
    except LabelError:
        return None
    if link.key_ai == "00":
        return None, None, None, link.key
    if link.key_ai != "01":
        return None
    lot, serial = link.lot, link.serial
    if serial is not None and lot is None:  # an SGTIN has no lot: take ours when we know the item
        item = q.find_item(session, link.key, None, serial)
        lot = item["lot"] if item is not None else None
    return link.key, lot, serial, None


def _objects(session: Session, event: Mapping[str, Any]) -> list[_Object]:
    found: list[_Object] = []
    uris = [event["parentID"]] if "parentID" in event else []
    uris += [u for name in _OBJECT_LISTS for u in event.get(name, [])]
    uris += [qe["epcClass"] for name in _CLASS_LISTS for qe in event.get(name, [])]
    for uri in uris:
        obj = _object(session, uri)
        if obj is not None and obj not in found:
            found.append(obj)
    return found


def _subject(objects: list[_Object], event: Mapping[str, Any]) -> str:
    for gtin, lot, serial, sscc in objects:
        if sscc is not None:
            return ids.sscc_subject(sscc)
        if gtin is not None and lot is not None:
            return ids.item_subject(gtin, lot, serial) if serial else ids.batch_subject(gtin, lot)
        if gtin is not None and serial is None:
            return ids.product_subject(gtin)
    first = next((event[k][0] for k in _OBJECT_LISTS if event.get(k)), event.get("parentID"))
    return ("epcis:" + canonical_id(first))[:200] if first else "epcis:unidentified"


def _prepare(
    session: Session, event: Mapping[str, Any], prefixes: Mapping[str, str], context: list[Any]
) -> _Prepared:
    digest = event_hash(event, prefixes)
    when = event_time(datetime.fromisoformat(_FRACTION.sub(r"\1", event["eventTime"])))
    objects = _objects(session, event)
    body: dict[str, Any] = {
        "hash": digest,
        "event_type": event["type"],
        "mapped": _mapped(event),
        "objects": [list(o) for o in objects],
        "event": rfc8785.dumps(dict(event)).decode("utf-8"),
    }
    if context:
        body["context"] = rfc8785.dumps(context).decode("utf-8")
    for key, name in (("action", "action"), ("bizStep", "biz_step")):
        if key in event:
            body[name] = event[key]
    parent = _object(session, event["parentID"]) if "parentID" in event else None
    if event["type"] == "AggregationEvent" and parent is not None and parent[3] is not None:
        body["parent"] = parent[3]
        body["children"] = [list(o) for o in objects if o != parent]
    size = len(rfc8785.dumps(body)) + 600  # the envelope around the body
    if size > MAX_ENTRY_SIZE:
        raise ValueError(
            f"event is too large for one ledger entry ({size} bytes > {MAX_ENTRY_SIZE}): split it"
        )
    return _Prepared(digest, when, _subject(objects, event), body, event.get("errorDeclaration"))


def capture(
    writer: LogWriter,
    actor: Actor,
    document: Mapping[str, Any] | str | bytes,
    *,
    schema: EpcisSchema,
) -> CaptureResult:
    """Capture an EPCIS 2.0 ``EPCISDocument``: validate it whole, then append its new events.

    :raises ForbiddenRole: for a role that may not capture (consumers, couriers).
    :raises EpcisInvalid: with ``problems`` when the document is not JSON, fails the
        schema, is not an EPCISDocument, or an event cannot be hashed or stored;
        nothing is written.
    """
    if actor.role not in CAPTURE_ROLES:
        raise ForbiddenRole(f"role {actor.role!r} may not capture EPCIS documents")
    doc = _parse(document)
    problems = schema.problems(doc)
    if not problems and doc.get("type") != "EPCISDocument":
        problems.append(f"type: {doc.get('type')!r} is not 'EPCISDocument'")
    if problems:
        raise EpcisInvalid(f"EPCIS document refused: {len(problems)} problem(s)", problems=problems)
    session = writer.session
    prefixes, context = _prefixes(doc.get("@context"))
    prepared: list[_Prepared] = []
    for i, event in enumerate(doc["epcisBody"]["eventList"]):
        try:
            prepared.append(_prepare(session, event, prefixes, context))
        except (ValueError, KeyError, TypeError, rfc8785.CanonicalizationError) as exc:
            problems.append(f"epcisBody/eventList/{i}: {exc}")
    if problems:
        raise EpcisInvalid(f"EPCIS document refused: {len(problems)} problem(s)", problems=problems)
    table = EPCIS_EVENTS
    known = {
        row.event_hash: row
        for row in session.execute(
            select(table).where(table.c.event_hash.in_({p.hash for p in prepared}))
        )
    }
    entries: list[NewEntry] = []
    outcome: list[tuple[str, str, int | None]] = []  # hash, status, known index
    for p in prepared:
        row = known.get(p.hash)
        if row is not None and p.declaration is not None and row.declared_error_idx is None:
            subject = session.execute(
                select(LogEntry.subject).where(LogEntry.idx == row.idx)
            ).scalar_one()
            reason = str(p.declaration.get("reason", "EPCIS errorDeclaration"))
            entries.append(
                NewEntry(
                    ledger_kind("correction"),
                    event_time(
                        datetime.fromisoformat(
                            _FRACTION.sub(r"\1", p.declaration["declarationTime"])
                        )
                    ),
                    actor.id,
                    subject,
                    {"ref_index": row.idx, "reason": reason[:500]},
                )
            )
            outcome.append((p.hash, "error_declared", None))
        elif row is not None or any(h == p.hash for h, _, _ in outcome):
            outcome.append((p.hash, "duplicate", row.idx if row is not None else None))
        else:
            entries.append(NewEntry(ledger_kind("epcis"), p.time, actor.id, p.subject, p.body))
            outcome.append((p.hash, "captured", None))
    appended = writer.append(entries) if entries else []
    apply_appended(session, appended)
    written = iter(appended)
    first: dict[str, int] = {}
    result = []
    for digest, status, index in outcome:
        if index is None and status != "duplicate":
            index = next(written).index
            first.setdefault(digest, index)
        result.append(Captured(digest, index if index is not None else first[digest], status))
    return CaptureResult(result)
