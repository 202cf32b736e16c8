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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import rfc8785
from sqlalchemy import select
from sqlalchemy.orm import Session

from labels.digital_link import CANONICAL_BASE, parse_digital_link
from labels.errors import LabelError
from ledger.actor import Actor
from ledger.entry import MAX_ENTRY_SIZE, canonical_json
from ledger.errors import EntryError
from ledger.models import LogEntry
from ledger.sequencer import LogWriter, NewEntry
from trace import identifiers as ids
from trace.epcis import NS, EpcisSchema
from trace.epcis_hash import CBV, canonical_id, canonical_link, cbv_term, event_hash
from trace.errors import EpcisInvalid, ForbiddenRole
from trace.events import event_time, ledger_kind
from trace.models import EPCIS_EVENTS
from trace.projection import apply_appended
from trace.queries import lots_of_serials

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


# A Digital Link's path holds its primary key (00, 01 or 414) as a segment; parsing
# anything else only ends in an exception (a bizTransaction URL, say).
_KEY_SEGMENT = re.compile(r"/(?:00|01|414)/")


class _Resolver:
    """What the EPCs of one document name, each identifier parsed once per document.

    ``canonical_id`` and the Digital-Link parse are remembered per URI (an EPC is
    often named by several events of a document), and the lots of SGTIN URNs (which
    carry none) are read for the whole document by :meth:`load_lots` in one ``IN``
    query per GTIN, rather than one ``find_item`` per EPC.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self._canonical: dict[str, str] = {}
        self._links: dict[str, Any] = {}
        self._lots: dict[tuple[str, str], str | None] = {}

    def canonical(self, uri: str) -> str:
        """Return :func:`canonical_id` of ``uri``, a Digital Link parsed once for both uses."""
        value = self._canonical.get(uri)
        if value is None:
            if uri.startswith(("http://", "https://")) and uri == uri.strip():
                link = self.link(uri)
                value = canonical_link(link) if link is not None else uri
            else:
                value = canonical_id(uri)
            self._canonical[uri] = value
        return value

    def link(self, uri: str) -> Any:
        """Return the parsed Digital Link of an EPC in our namespace, or None."""
        if uri in self._links:
            return self._links[uri]
        link = None
        if uri.startswith(("http://", "https://")) and uri == uri.strip():
            if _KEY_SEGMENT.search(uri) is None:  # not a Digital Link: no parse, no exception
                self._links[uri] = None
                return None
            # canonical_id would parse it too, and the result is ours exactly when it parses
            try:
                link = parse_digital_link(uri)
            except LabelError:
                link = None
        elif (canonical := self.canonical(uri)).startswith(CANONICAL_BASE + "/"):
            try:
                link = parse_digital_link(uri if uri.startswith("http") else canonical)
            except LabelError:
                link = None
        self._links[uri] = link
        return link

    def load_lots(self, uris: Iterable[str]) -> None:
        """Read, in one query per GTIN, the lots of the items named without one."""
        wanted: dict[str, set[str]] = {}
        for uri in uris:
            link = self.link(uri)
            if (
                link is not None and link.key_ai == "01" and link.serial is not None
                and link.lot is None and (link.key, link.serial) not in self._lots
            ):
                wanted.setdefault(link.key, set()).add(link.serial)
        for gtin, serials in wanted.items():
            ordered = sorted(serials)
            for serial in ordered:
                self._lots[(gtin, serial)] = None
            for serial, lot in lots_of_serials(self.session, gtin, ordered):
                self._lots[(gtin, serial)] = lot

    def object(self, uri: str) -> _Object | None:
        """Return what an EPC or EPC class names among our identifiers, if anything."""
        link = self.link(uri)
        if link is None:
            return None
        if link.key_ai == "00":
            return None, None, None, link.key
        if link.key_ai != "01":
            return None
        lot, serial = link.lot, link.serial
        if serial is not None and lot is None:  # an SGTIN has no lot: ours, if we know the item
            key = (link.key, serial)
            if key not in self._lots:
                self.load_lots([uri])
            lot = self._lots[key]
        return link.key, lot, serial, None


def _uris(event: Mapping[str, Any]) -> list[str]:
    uris = [event["parentID"]] if "parentID" in event else []
    uris += [u for name in _OBJECT_LISTS for u in event.get(name, [])]
    uris += [qe["epcClass"] for name in _CLASS_LISTS for qe in event.get(name, [])]
    return uris


def _objects(resolver: _Resolver, event: Mapping[str, Any]) -> list[_Object]:
    found: list[_Object] = []
    for uri in _uris(event):
        obj = resolver.object(uri)
        if obj is not None and obj not in found:
            found.append(obj)
    return found


def _subject(resolver: _Resolver, objects: list[_Object], event: Mapping[str, Any]) -> str:
    for gtin, lot, serial, sscc in objects:
        if sscc is not None:
            return ids.sscc_subject(sscc)
        if gtin is not None and lot is not None:
            return ids.item_subject(gtin, lot, serial) if serial else ids.batch_subject(gtin, lot)
        if gtin is not None and serial is None:
            return ids.product_subject(gtin)
    first = next((event[k][0] for k in _OBJECT_LISTS if event.get(k)), event.get("parentID"))
    return ("epcis:" + resolver.canonical(first))[:200] if first else "epcis:unidentified"


def _canonical_text(value: Any) -> str:
    """Return the RFC 8785 text of ``value`` (``ledger.entry.canonical_json``)."""
    return canonical_json(value).decode("utf-8")


def _json_string_size(text: str) -> int:
    """Return the UTF-8 size of ``text`` as an RFC 8785 JSON string, quotes included.

    Only for text that is itself RFC 8785 output: it holds no control characters (those
    are escaped already), so only ``"`` and ``\\`` gain an escape.
    """
    return len(text.encode("utf-8")) + text.count('"') + text.count("\\") + 2


def _body_size(body: Mapping[str, Any], texts: tuple[str, ...]) -> int:
    """Return ``len(rfc8785.dumps(body))`` without serialising its big text members again.

    The rest of the body holds only strings, lists of strings and None, which the C
    ``json`` encoder writes as RFC 8785 does but for the order of keys (same length).
    """
    rest = {k: v for k, v in body.items() if k not in texts}
    size = len(json.dumps(rest, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    for key in texts:
        if key in body:  # ,"key":"..." (rest is never empty: it holds the hash)
            size += 1 + len(key) + 3 + _json_string_size(body[key])
    return size


def _prepare(
    resolver: _Resolver, event: Mapping[str, Any], prefixes: Mapping[str, str],
    context_text: str | Exception | None,
) -> _Prepared:
    digest = event_hash(event, prefixes, resolver.canonical)
    when = event_time(datetime.fromisoformat(_FRACTION.sub(r"\1", event["eventTime"])))
    objects = _objects(resolver, event)
    body: dict[str, Any] = {
        "hash": digest,
        "event_type": event["type"],
        "mapped": _mapped(event),
        "objects": [list(o) for o in objects],
        "event": _canonical_text(dict(event)),
    }
    if isinstance(context_text, Exception):
        raise context_text  # the document's context cannot be canonicalised
    if context_text is not None:
        body["context"] = context_text
    for key, name in (("action", "action"), ("bizStep", "biz_step")):
        if key in event:
            body[name] = event[key]
    parent = resolver.object(event["parentID"]) if "parentID" in event else None
    if event["type"] == "AggregationEvent" and parent is not None and parent[3] is not None:
        body["parent"] = parent[3]
        body["children"] = [list(o) for o in objects if o != parent]
    size = _body_size(body, ("event", "context")) + 600  # the envelope around the body
    if size > MAX_ENTRY_SIZE:
        raise ValueError(
            f"event is too large for one ledger entry ({size} bytes > {MAX_ENTRY_SIZE}): split it"
        )
    return _Prepared(
        digest, when, _subject(resolver, objects, event), body, event.get("errorDeclaration")
    )


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
    context_text: str | Exception | None = None
    if context:
        try:  # serialised once per document, not once per event
            context_text = rfc8785.dumps(context).decode("utf-8")
        except rfc8785.CanonicalizationError as exc:
            context_text = exc
    resolver = _Resolver(session)
    events = doc["epcisBody"]["eventList"]
    try:  # the lots of all SGTIN URNs of the document, read at once
        resolver.load_lots(u for event in events for u in _uris(event))
    except (KeyError, TypeError, AttributeError):
        pass  # a malformed event: _prepare reports it below
    prepared: list[_Prepared] = []
    for i, event in enumerate(events):
        try:
            prepared.append(_prepare(resolver, event, prefixes, context_text))
        except (ValueError, KeyError, TypeError, EntryError,
                rfc8785.CanonicalizationError) as exc:
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
    seen: set[str] = set()  # hashes captured by this document
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
        elif row is not None or p.hash in seen:
            outcome.append((p.hash, "duplicate", row.idx if row is not None else None))
        else:
            entries.append(NewEntry(ledger_kind("epcis"), p.time, actor.id, p.subject, p.body))
            outcome.append((p.hash, "captured", None))
            seen.add(p.hash)
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
