"""Read side: histories with inclusion proofs, backward trace, where-used, recall scope.

Every query is an index lookup on the projections of :mod:`trace.models` (the
index each one uses is named in its docstring).  Histories come with, for each
event, the decoded ledger entry and its RFC 9162 §2.1.3.1 inclusion proof
against the log's current signed checkpoint, so a client holding the log's
verifier key can check every event offline (``ledger.merkle.verify_inclusion``
and ``ledger.note.verify_checkpoint``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, func, literal, or_, select, text, union_all
from sqlalchemy.orm import Session

from ledger.entry import Entry, parse_entry
from ledger.models import LogEntry
from ledger import merkle
from ledger.models import Tile
from ledger.store import TILE_HEIGHT, TILE_WIDTH, TileReader, read_head
from trace.errors import NotFound
from trace.identifiers import ItemKey
from trace.models import BATCHES, CONTENTS, EVENTS, ITEMS, PRODUCTS, UNITS

__all__ = [
    "ProvenEvent",
    "History",
    "BackwardTrace",
    "WhereUsed",
    "RecallScope",
    "find_product",
    "find_batch",
    "find_product_batch",
    "find_item",
    "lots_of_serials",
    "item_state",
    "find_unit",
    "find_event",
    "unit_contents",
    "item_history",
    "batch_history",
    "unit_history",
    "backward_trace",
    "where_used",
    "recall_scope",
]

_E = EVENTS.c
_C = CONTENTS.c
_CHUNK = 500


@dataclass(frozen=True)
class ProvenEvent:
    """One event of a history: where it sits in the log, what it says, and its proof."""

    index: int
    kind: str
    level: str  # the level of the history row: item, batch, unit or product
    source: str  # native, or epcis (captured)
    via: str | None  # the SSCC through which a unit-level event reached the item
    corrected_by: int | None  # the correction entry that declared this event erroneous
    entry: Entry
    proof: list[bytes]

    @property
    def leaf_hash(self) -> bytes:
        """Return the entry's RFC 9162 leaf hash (what the proof proves)."""
        return self.entry.leaf_hash


@dataclass(frozen=True)
class History:
    """Events in ledger order, each proven against the checkpoint of ``tree_size``."""

    tree_size: int
    root: bytes
    checkpoint: str | None  # the signed note (C2SP tlog-checkpoint) of that tree
    events: list[ProvenEvent]


@dataclass(frozen=True)
class BackwardTrace:
    """From an item back to its batch, product, production, inspections and recall."""

    item: dict[str, Any]
    batch: dict[str, Any]
    product: dict[str, Any]
    batch_events: History  # production, inspections, recall (with proofs)


@dataclass(frozen=True)
class WhereUsed:
    """Where a batch went: its items and every logistic unit reached through aggregation."""

    items: list[ItemKey]
    units: list[str]


@dataclass(frozen=True)
class RecallScope:
    """Everyone a recall of a batch must reach downstream."""

    items: int
    states: dict[str, int]
    units: list[str]
    platforms: list[str] = field(default_factory=list)
    shops: list[str] = field(default_factory=list)
    orders: list[str] = field(default_factory=list)
    buyer_commitments: list[str] = field(default_factory=list)
    signer_commitments: list[str] = field(default_factory=list)


def _by_key(table: Any, *columns: str) -> Any:
    """Return ``SELECT * FROM table WHERE column = :column AND ...``, built once.

    A statement built once keeps its cache key: building it per call (the hot lookups
    of every write) cost more than running it.
    """
    return select(table).where(*(table.c[name] == bindparam(name) for name in columns))


_PRODUCT = _by_key(PRODUCTS, "gtin")
_BATCH = _by_key(BATCHES, "gtin", "lot")
_ITEM = _by_key(ITEMS, "gtin", "serial")
_UNIT = _by_key(UNITS, "sscc")
_FIRST_ROW = select(EVENTS).where(_E.idx == bindparam("idx"), _E.seq == 0)


def _one(session: Session, statement: Any, **params: Any) -> dict[str, Any] | None:
    row = session.execute(statement, params).first()
    return dict(row._mapping) if row is not None else None


def find_product(session: Session, gtin: str) -> dict[str, Any] | None:
    """Return the product row of ``gtin`` (primary key), or None."""
    return _one(session, _PRODUCT, gtin=gtin)


def find_batch(session: Session, gtin: str, lot: str) -> dict[str, Any] | None:
    """Return the batch row (primary key), or None."""
    return _one(session, _BATCH, gtin=gtin, lot=lot)


_PRODUCT_BATCH = (
    select(PRODUCTS.c.producer.label("product_producer"), BATCHES)
    .select_from(PRODUCTS.outerjoin(
        BATCHES, and_(BATCHES.c.gtin == PRODUCTS.c.gtin, BATCHES.c.lot == bindparam("lot"))))
    .where(PRODUCTS.c.gtin == bindparam("gtin"))
)


def find_product_batch(
    session: Session, gtin: str, lot: str
) -> tuple[str | None, dict[str, Any] | None]:
    """Return the producer of product ``gtin`` and its batch ``lot``, in one query.

    ``(None, None)`` when the product is unknown, ``(producer, None)`` when the batch is.
    """
    row = _one(session, _PRODUCT_BATCH, gtin=gtin, lot=lot)
    if row is None:
        return None, None
    producer = row.pop("product_producer")
    return producer, (row if row["lot"] is not None else None)


# SQLite, without statistics, reads "gtin = ? AND serial IN (…)" (two values or more)
# through the primary key (gtin, lot, serial), which covers both columns returned: a
# scan of every item of the GTIN for each list.  INDEXED BY keeps one probe per serial.
# (SQLAlchemy's SQLite compiler renders no table hints, hence the text.)
_BY_SERIAL = "SELECT serial, lot FROM trace_items{} WHERE gtin = :gtin AND serial IN :serials"
_LOTS_OF_SERIALS = {
    sqlite: text(_BY_SERIAL.format(" INDEXED BY ix_trace_items_gtin_serial" if sqlite else ""))
    .bindparams(bindparam("serials", expanding=True))
    for sqlite in (True, False)
}


def lots_of_serials(
    session: Session, gtin: str, serials: Sequence[str], *, first: bool = False
) -> list[tuple[str, str]]:
    """Return ``(serial, lot)`` of the items of ``gtin`` among ``serials``.

    A serial is unique within its GTIN, whatever the lot (GS1 GenSpecs §3.2, AI 21).
    ``first``: stop at the first one found.
    """
    stmt = _LOTS_OF_SERIALS[session.get_bind().dialect.name == "sqlite"]
    found: list[tuple[str, str]] = []
    for i in range(0, len(serials), _CHUNK):
        rows = session.execute(stmt, {"gtin": gtin, "serials": list(serials[i : i + _CHUNK])})
        found.extend((serial, lot) for serial, lot in rows)
        if first and found:
            return found[:1]
    return found


def find_item(session: Session, gtin: str, lot: str | None, serial: str) -> dict[str, Any] | None:
    """Return the item row by ``(gtin, serial)`` (unique index), checking ``lot`` if given."""
    row = _one(session, _ITEM, gtin=gtin, serial=serial)
    return row if row is not None and (lot is None or row["lot"] == lot) else None


def find_unit(session: Session, sscc: str) -> dict[str, Any] | None:
    """Return the logistic unit row (primary key), or None."""
    return _one(session, _UNIT, sscc=sscc)


def find_event(session: Session, index: int) -> dict[str, Any] | None:
    """Return the main projected row (``seq`` 0) of the event at ledger ``index``, or None."""
    return _one(session, _FIRST_ROW, idx=index)


def unit_contents(session: Session, sscc: str) -> tuple[list[tuple[str, str, str]], list[str]]:
    """Return the items (gtin, lot, serial) and units now inside ``sscc``, at any depth.

    Walks ``trace_unit_contents`` by its primary key prefix, one level at a time.
    """
    items: list[tuple[str, str, str]] = []
    units: list[str] = []
    frontier, seen = [sscc], {sscc}
    while frontier:
        rows = session.execute(
            select(_C.child_gtin, _C.child_lot, _C.child_serial, _C.child_sscc)
            .where(_C.parent_sscc.in_(frontier), _C.removed_idx.is_(None))
            .order_by(_C.parent_sscc, _C.added_idx, _C.seq)
        ).all()
        frontier = []
        for gtin, lot, serial, child in rows:
            if child is not None and child not in seen:
                seen.add(child)
                units.append(child)
                frontier.append(child)
            elif child is None and lot is not None and serial is not None:
                items.append((gtin, lot, serial))
    return items, units


def _entries(session: Session, indexes: Sequence[int]) -> dict[int, Entry]:
    found: dict[int, Entry] = {}
    for i in range(0, len(indexes), _CHUNK):
        chunk = indexes[i : i + _CHUNK]
        for idx, data in session.execute(
            select(LogEntry.idx, LogEntry.data).where(LogEntry.idx.in_(chunk))
        ):
            found[idx] = parse_entry(data)
    return found


_TILES = Tile.__table__
_PROOF_CHUNK = 256  # events whose tiles are read in one query (bounds the tiles held)


class _HistoryReader(TileReader):
    """A TileReader for the proofs of one history.

    ``node`` is memoised in ``nodes`` (a dict shared across the readers of one history):
    the proofs of a history's events against one tree size share their upper siblings,
    and a complete perfect node never changes.  ``load`` reads the tiles of many nodes
    in one query per chunk, grouped by tile level as ``(level = ? AND idx IN (...)) OR ...``
    so SQLite uses the primary key (a row-value ``(level, idx) IN (VALUES ...)`` is a full
    scan of ``ledger_tiles`` on SQLite 3.40).
    """

    def __init__(self, session: Session, nodes: dict[tuple[int, int], bytes]) -> None:
        super().__init__(session)
        self._conn_session = session
        self._loaded: dict[tuple[int, int], bytes] = {}
        self._memo = nodes

    def load(self, nodes: Iterable[tuple[int, int]]) -> None:
        by_level: dict[int, set[int]] = {}
        for level, index in nodes:
            if (level, index) in self._memo:
                continue
            tile_level, rest = divmod(level, TILE_HEIGHT)
            by_level.setdefault(tile_level, set()).add((index << rest) // TILE_WIDTH)
        if not by_level:
            return
        rows = self._conn_session.connection().execute(
            select(_TILES.c.level, _TILES.c.idx, _TILES.c.hashes).where(
                or_(*(and_(_TILES.c.level == lv, _TILES.c.idx.in_(sorted(ix)))
                      for lv, ix in sorted(by_level.items())))
            )
        )
        for level, idx, hashes in rows:
            self._loaded[(level, idx)] = hashes
        for level, ix in by_level.items():
            for idx in ix:
                self._loaded.setdefault((level, idx), b"")

    def tile(self, level: int, index: int) -> bytes:
        hashes = self._loaded.get((level, index))
        return hashes if hashes is not None else super().tile(level, index)

    def node(self, level: int, index: int) -> bytes:
        key = (level, index)
        value = self._memo.get(key)
        if value is None:
            value = self._memo[key] = super().node(level, index)
        return value


def _proofs(session: Session, indexes: Sequence[int], size: int) -> dict[int, list[bytes]]:
    """Return the inclusion proof of each of ``indexes`` against the tree of ``size``.

    Same paths as ``ledger.store.inclusion_proof`` (RFC 9162 §2.1.3.1), built with one
    head (the caller's), one tile query per chunk of events and shared upper nodes.
    """
    memo: dict[tuple[int, int], bytes] = {}
    proofs: dict[int, list[bytes]] = {}
    for i in range(0, len(indexes), _PROOF_CHUNK):
        chunk = indexes[i : i + _PROOF_CHUNK]
        reader = _HistoryReader(session, memo)
        reader.load(n for idx in chunk for n in merkle.inclusion_path_nodes(idx, size))
        for idx in chunk:
            proofs[idx] = merkle.inclusion_path(idx, size, reader.node)
    return proofs


def _history(session: Session, *wheres: ColumnElement[bool]) -> History:
    # One query per index (no OR across indexes), merged in ledger order.
    unique: dict[int, Any] = {}
    for where in wheres:
        for row in session.execute(
            select(_E.idx, _E.kind, _E.level, _E.source, _E.via, _E.corrected_by)
            .where(where)
            .order_by(_E.idx, _E.seq)
        ):
            unique.setdefault(row.idx, row)  # an event reaches an object once
    order = sorted(unique)
    head = read_head(session)
    entries = _entries(session, order)
    proofs = _proofs(session, order, head.size)
    events = [
        ProvenEvent(
            index=idx,
            kind=unique[idx].kind,
            level=unique[idx].level,
            source=unique[idx].source,
            via=unique[idx].via,
            corrected_by=unique[idx].corrected_by,
            entry=entries[idx],
            proof=proofs[idx],
        )
        for idx in order
    ]
    return History(head.size, head.root, head.checkpoint, events)


def _batch_rows(gtin: str, lot: str) -> ColumnElement[bool]:
    return and_(_E.gtin == gtin, _E.lot == lot, _E.level == "batch")


def _state_of(part: str, where: ColumnElement[bool]) -> Any:
    return select(literal(part), func.max(_E.idx), func.max(_E.corrected_by),
                  func.count()).where(where)


_ITEM_STATE = union_all(
    _state_of("item", and_(_E.gtin == bindparam("gtin"), _E.serial == bindparam("serial"),
                   or_(_E.lot == bindparam("lot"), _E.lot.is_(None)))),
    _state_of("batch", and_(_E.gtin == bindparam("gtin"), _E.lot == bindparam("lot"),
                   _E.level == "batch")),
)


def item_state(session: Session, gtin: str, lot: str, serial: str) -> tuple[Any, ...]:
    """Return what changes whenever the item's history, item, batch or product row does.

    For each of the item's and its batch's event rows (those of :func:`item_history`):
    the last index, the last correction and the count.  Every event that changes those
    rows adds an event row for the object (events on a parent unit add one per child,
    a correction one for the corrected object), and a corrected row gets its
    ``corrected_by``; products do not change once registered.  One query of the same
    two index ranges as the history (``ix_trace_events_item``, ``ix_trace_events_batch``).
    """
    rows = session.execute(_ITEM_STATE, {"gtin": gtin, "lot": lot, "serial": serial})
    return tuple(value for row in sorted(rows, key=lambda r: str(r[0])) for value in row)


def item_history(session: Session, gtin: str, lot: str, serial: str) -> History:
    """Return an item's events and its batch's, oldest first, each with its proof.

    Index lookups: ``ix_trace_events_item (gtin, serial, idx)`` and
    ``ix_trace_events_batch (gtin, lot, level, idx)``.  Captured EPCIS events that
    named the item without its lot (an SGTIN) are included.

    :raises NotFound: if the item was never serialised here and no event names it.
    """
    item_rows = and_(_E.gtin == gtin, _E.serial == serial, or_(_E.lot == lot, _E.lot.is_(None)))
    history = _history(session, item_rows, _batch_rows(gtin, lot))
    if find_item(session, gtin, lot, serial) is None and not any(
        e.level == "item" for e in history.events
    ):
        raise NotFound(f"no item {gtin}/{lot}/{serial}")
    return history


def batch_history(session: Session, gtin: str, lot: str) -> History:
    """Return a batch's own events (production, inspections, recall, captured class events).

    Index lookup: ``ix_trace_events_batch (gtin, lot, level, idx)``.

    :raises NotFound: if the batch is unknown and no event names it.
    """
    history = _history(session, _batch_rows(gtin, lot))
    if not history.events and find_batch(session, gtin, lot) is None:
        raise NotFound(f"no batch {gtin}/{lot}")
    return history


def unit_history(session: Session, sscc: str) -> History:
    """Return a logistic unit's events (packing, shipping, ...). Index: ``(sscc, idx)``.

    :raises NotFound: if no event names the unit.
    """
    history = _history(session, _E.sscc == sscc)
    if not history.events:
        raise NotFound(f"no logistic unit {sscc}")
    return history


def backward_trace(session: Session, gtin: str, lot: str, serial: str) -> BackwardTrace:
    """Trace an item back to its batch, product and the batch's inspections (primary keys).

    :raises NotFound: if the item, batch or product is unknown.
    """
    item = find_item(session, gtin, lot, serial)
    batch = find_batch(session, gtin, lot)
    product = find_product(session, gtin)
    if item is None or batch is None or product is None:
        raise NotFound(f"no item {gtin}/{lot}/{serial} with a registered batch and product")
    return BackwardTrace(item, batch, product, _history(session, _batch_rows(gtin, lot)))


def _ancestors(session: Session, units: Iterable[str]) -> list[str]:
    """Return ``units`` and every unit they were ever packed into (``ix_..._child_sscc``)."""
    found = list(dict.fromkeys(units))
    frontier, seen = list(found), set(found)
    while frontier:
        parents: list[str] = []
        for i in range(0, len(frontier), _CHUNK):
            chunk = frontier[i : i + _CHUNK]
            parents += [
                p
                for (p,) in session.execute(
                    select(_C.parent_sscc).where(_C.child_sscc.in_(chunk)).distinct()
                )
            ]
        frontier = [p for p in dict.fromkeys(parents) if p not in seen]
        seen.update(frontier)
        found += frontier
    return found


def where_used(session: Session, gtin: str, lot: str) -> WhereUsed:
    """Return a batch's items and every logistic unit they (or a quantity) went into.

    Index lookups: ``trace_items`` primary key prefix ``(gtin, lot)``,
    ``ix_trace_unit_contents_batch (child_gtin, child_lot)``, then up through
    ``ix_trace_unit_contents_child_sscc`` (units packed into units).
    """
    t = ITEMS
    items = [
        ItemKey(*row)
        for row in session.execute(
            select(t.c.gtin, t.c.lot, t.c.serial)
            .where(t.c.gtin == gtin, t.c.lot == lot)
            .order_by(t.c.serial)
        )
    ]
    direct = [
        p
        for (p,) in session.execute(
            select(_C.parent_sscc)
            .where(_C.child_gtin == gtin, _C.child_lot == lot)
            .distinct()
            .order_by(_C.parent_sscc)
        )
    ]
    return WhereUsed(items, _ancestors(session, direct))


def recall_scope(session: Session, gtin: str, lot: str) -> RecallScope:
    """Return the platforms, shops, orders and consumer commitments a recall must reach.

    One range scan of ``trace_items`` by primary key prefix ``(gtin, lot)``; events on
    logistic units were projected onto their items, so aggregation is covered.

    :raises NotFound: if the batch is unknown.
    """
    if find_batch(session, gtin, lot) is None:
        raise NotFound(f"no batch {gtin}/{lot}")
    t = ITEMS
    rows = session.execute(
        select(
            t.c.state,
            t.c.platform,
            t.c.shop_id,
            t.c.order_id,
            t.c.buyer_commitment,
            t.c.signer_commitment,
        ).where(t.c.gtin == gtin, t.c.lot == lot)
    ).all()
    states: dict[str, int] = {}
    for row in rows:
        states[row.state] = states.get(row.state, 0) + 1

    def distinct(column: str) -> list[str]:
        return sorted({getattr(r, column) for r in rows if getattr(r, column) is not None})

    return RecallScope(
        items=len(rows),
        states=states,
        units=where_used(session, gtin, lot).units,
        platforms=distinct("platform"),
        shops=distinct("shop_id"),
        orders=distinct("order_id"),
        buyer_commitments=distinct("buyer_commitment"),
        signer_commitments=distinct("signer_commitment"),
    )
