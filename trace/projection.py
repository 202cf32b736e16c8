"""Project ``trace.*`` ledger entries into the query tables of :mod:`trace.models`.

One function, :func:`apply`, serves both the services (on the entries they have
just appended, in the same transaction) and ``flask ledger replay`` (on every
entry, in index order), so a replay rebuilds identical tables.  It reads nothing
but the entries and the tables it builds itself, in entry order.

Items are the hot table (a production run serialises 100,000 at once): they are
kept in a per-call cache and written with bulk Core inserts and updates at the
end; event rows are bulk-inserted too.  The other tables are small and written
as each entry is applied.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from ledger.replay import Projection, ReplayedEntry, register
from ledger.sequencer import Appended
from trace.events import PREFIX, short_kind
from trace.models import BATCHES, CONTENTS, EPCIS_EVENTS, EVENTS, ITEMS, PRODUCTS, TABLES, UNITS
from trace import queries  # a module import: trace.models imports this module at its end
from trace.rules import RULES

__all__ = ["apply", "apply_appended", "PROJECTION"]

_ITEMS, _EVENTS, _UNITS, _CONTENTS = ITEMS, EVENTS, UNITS, CONTENTS
_ITEM_COLUMNS = tuple(c.name for c in _ITEMS.columns)
_ItemKey = tuple[str, str, str]
_Child = tuple[str | None, str | None, str | None, str | None]  # gtin, lot, serial, sscc


class _Context:
    """The state of one :func:`apply` call: the item cache and pending event rows."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.items: dict[_ItemKey, dict[str, Any]] = {}
        self.new: set[_ItemKey] = set()
        self.dirty: set[_ItemKey] = set()
        self.events: list[dict[str, Any]] = []
        self.epcis: list[dict[str, Any]] = []  # pending trace_epcis_events rows

    def item(self, gtin: str, lot: str, serial: str) -> dict[str, Any] | None:
        key = (gtin, lot, serial)
        if key not in self.items:
            row = self.session.execute(
                select(_ITEMS).where(
                    _ITEMS.c.gtin == gtin, _ITEMS.c.lot == lot, _ITEMS.c.serial == serial
                )
            ).first()
            if row is None:
                return None
            self.items[key] = dict(row._mapping)
        return self.items[key]

    def create_item(self, values: dict[str, Any]) -> None:
        key = (values["gtin"], values["lot"], values["serial"])
        self.items[key] = values
        self.new.add(key)

    def touch(self, item: dict[str, Any], idx: int, **changes: Any) -> None:
        item.update(changes, last_idx=idx)
        key = (item["gtin"], item["lot"], item["serial"])
        if key not in self.new:
            self.dirty.add(key)

    def event(self, entry: ReplayedEntry, seq: int, level: str, **keys: Any) -> None:
        env, body = entry.envelope, entry.envelope["body"]
        kind = short_kind(env["kind"])
        captured = kind == "epcis"
        self.events.append(
            {
                "idx": entry.index,
                "seq": seq,
                "kind": body["mapped"] if captured else kind,
                "level": level,
                "source": "epcis" if captured else "native",
                "subject": env["subject"],
                "actor": env["actor"],
                "time": env["time"],
                "gtin": keys.get("gtin"),
                "lot": keys.get("lot"),
                "serial": keys.get("serial"),
                "sscc": keys.get("sscc"),
                "via": keys.get("via"),
                "place": body.get("place"),
                "order_id": body.get("order_id"),
                "shop_id": body.get("shop_id"),
                "waybill": body.get("waybill"),
                "corrected_by": None,
            }
        )

    def flush(self) -> None:
        session = self.session
        if self.new:
            session.execute(insert(_ITEMS), [self.items[k] for k in self.new])
        if self.dirty:
            stmt = (
                update(_ITEMS)
                .where(
                    _ITEMS.c.gtin == bindparam("k_gtin"),
                    _ITEMS.c.lot == bindparam("k_lot"),
                    _ITEMS.c.serial == bindparam("k_serial"),
                )
                .values(
                    {c: bindparam(c) for c in _ITEM_COLUMNS if c not in ("gtin", "lot", "serial")}
                )
            )
            rows = []
            for key in self.dirty:
                row = {
                    c: v for c, v in self.items[key].items() if c not in ("gtin", "lot", "serial")
                }
                rows.append(dict(row, k_gtin=key[0], k_lot=key[1], k_serial=key[2]))
            session.execute(stmt, rows)
        if self.epcis:
            session.execute(insert(EPCIS_EVENTS), self.epcis)
            self.epcis = []
        if self.events:
            session.execute(insert(_EVENTS), self.events)
        self.new.clear()
        self.dirty.clear()
        self.events = []


def _targets(ctx: _Context, body: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the item rows an item- or unit-level event applies to."""
    if "sscc" in body:
        items, _ = queries.unit_contents(ctx.session, body["sscc"])
        found = [ctx.item(*key) for key in items]
        return [row for row in found if row is not None]
    row = ctx.item(body["gtin"], body["lot"], body["serial"])
    return [row] if row is not None else []


def _item_event(ctx: _Context, entry: ReplayedEntry) -> None:
    """Apply a lifecycle event to its item, or to every item inside its logistic unit."""
    body = entry.envelope["body"]
    kind = short_kind(entry.envelope["kind"])
    seq, via = 0, None
    if "sscc" in body:
        ctx.event(entry, 0, "unit", sscc=body["sscc"])
        seq, via = 1, body["sscc"]
    result = RULES[kind].result
    for offset, item in enumerate(_targets(ctx, body)):
        changes = _ITEM_CHANGES[kind](item, entry)
        if result is not None:
            changes["state"] = result
        ctx.touch(item, entry.index, **changes)
        ctx.event(entry, seq + offset, "item", gtin=item["gtin"], lot=item["lot"],
                  serial=item["serial"], via=via)


def _product(ctx: _Context, entry: ReplayedEntry) -> None:
    b = entry.envelope["body"]
    ctx.session.execute(
        insert(PRODUCTS).values(
            gtin=b["gtin"],
            name=b["name"],
            name_en=b.get("name_en"),
            category=b["category"],
            producer=b["producer"],
            attributes=b.get("attributes", {}),
            licence_category=b.get("licence_category"),
            registered_idx=entry.index,
        )
    )
    ctx.event(entry, 0, "product", gtin=b["gtin"])


def _production(ctx: _Context, entry: ReplayedEntry) -> None:
    b = entry.envelope["body"]
    expiry = b.get("expiry_date")
    ctx.session.execute(
        insert(BATCHES).values(
            gtin=b["gtin"],
            lot=b["lot"],
            producer=entry.envelope["actor"],
            production_date=date.fromisoformat(b["production_date"]),
            expiry_date=date.fromisoformat(expiry) if expiry else None,
            place=b.get("place"),
            status="active",
            created_idx=entry.index,
        )
    )
    ctx.event(entry, 0, "batch", gtin=b["gtin"], lot=b["lot"])


def _batch_update(ctx: _Context, entry: ReplayedEntry, **values: Any) -> None:
    b = entry.envelope["body"]
    ctx.session.execute(
        update(BATCHES)
        .where(BATCHES.c.gtin == b["gtin"], BATCHES.c.lot == b["lot"])
        .values(**values)
    )
    ctx.event(entry, 0, "batch", gtin=b["gtin"], lot=b["lot"])


def _serialisation(ctx: _Context, entry: ReplayedEntry) -> None:
    b = entry.envelope["body"]
    values = dict.fromkeys(_ITEM_COLUMNS)
    values.update(
        gtin=b["gtin"],
        lot=b["lot"],
        serial=b["serial"],
        state=RULES["serialisation"].result,
        created_idx=entry.index,
        last_idx=entry.index,
        complaint_count=0,
        compensation_cents=0,
    )
    ctx.create_item(values)
    ctx.event(entry, 0, "item", gtin=b["gtin"], lot=b["lot"], serial=b["serial"])


def _ensure_unit(ctx: _Context, sscc: str, idx: int, **values: Any) -> None:
    found = ctx.session.execute(select(_UNITS.c.sscc).where(_UNITS.c.sscc == sscc)).first()
    if found is None:
        ctx.session.execute(
            insert(_UNITS).values(
                sscc=sscc, parent_sscc=values.get("parent_sscc"), first_idx=idx, last_idx=idx
            )
        )
    else:
        ctx.session.execute(
            update(_UNITS).where(_UNITS.c.sscc == sscc).values(last_idx=idx, **values)
        )


def _pack(ctx: _Context, entry: ReplayedEntry, parent: str, children: Iterable[_Child]) -> None:
    """Record ``children`` (gtin, lot, serial, sscc) as packed into ``parent`` (EPCIS ADD)."""
    idx = entry.index
    _ensure_unit(ctx, parent, idx)
    ctx.event(entry, 0, "unit", sscc=parent)
    rows = []
    for seq, (gtin, lot, serial, sscc) in enumerate(children, 1):
        rows.append(
            {
                "parent_sscc": parent,
                "added_idx": idx,
                "seq": seq,
                "child_gtin": gtin,
                "child_lot": lot,
                "child_serial": serial,
                "child_sscc": sscc,
                "removed_idx": None,
            }
        )
        if sscc is not None:
            _ensure_unit(ctx, sscc, idx, parent_sscc=parent)
            ctx.event(entry, seq, "unit", sscc=sscc, via=parent)
            continue
        item = ctx.item(gtin, lot, serial) if gtin and lot and serial else None
        if item is not None:
            ctx.touch(item, idx, sscc=parent)
        level = "item" if serial else "batch" if lot else "product"
        ctx.event(entry, seq, level, gtin=gtin, lot=lot, serial=serial, via=parent)
    if rows:
        ctx.session.execute(insert(_CONTENTS), rows)


def _unpack(ctx: _Context, entry: ReplayedEntry, parent: str, children: Sequence[_Child]) -> None:
    """Take ``children`` (all current ones when empty) out of ``parent`` (EPCIS DELETE)."""
    idx = entry.index
    _ensure_unit(ctx, parent, idx)
    ctx.event(entry, 0, "unit", sscc=parent)
    c = _CONTENTS.c
    rows = ctx.session.execute(
        select(c.added_idx, c.seq, c.child_gtin, c.child_lot, c.child_serial, c.child_sscc)
        .where(c.parent_sscc == parent, c.removed_idx.is_(None))
        .order_by(c.added_idx, c.seq)
    ).all()
    wanted = {(g, s) for g, _, s, u in children if u is None} | {u for *_, u in children if u}
    for seq, row in enumerate(rows, 1):
        key = row.child_sscc if row.child_sscc else (row.child_gtin, row.child_serial)
        if children and key not in wanted:
            continue
        ctx.session.execute(
            update(_CONTENTS)
            .where(c.parent_sscc == parent, c.added_idx == row.added_idx, c.seq == row.seq)
            .values(removed_idx=idx)
        )
        if row.child_sscc:
            _ensure_unit(ctx, row.child_sscc, idx, parent_sscc=None)
            ctx.event(entry, seq, "unit", sscc=row.child_sscc, via=parent)
            continue
        item = (
            ctx.item(row.child_gtin, row.child_lot, row.child_serial)
            if row.child_lot is not None and row.child_serial is not None
            else None
        )
        if item is not None and item["sscc"] == parent:
            ctx.touch(item, idx, sscc=None)
        level = "item" if row.child_serial else "batch" if row.child_lot else "product"
        ctx.event(
            entry,
            seq,
            level,
            gtin=row.child_gtin,
            lot=row.child_lot,
            serial=row.child_serial,
            via=parent,
        )


def _children(body: dict[str, Any]) -> list[_Child]:
    items = [(i["gtin"], i["lot"], i["serial"], None) for i in body.get("items", [])]
    return items + [(None, None, None, s) for s in body.get("units", [])]


def _correction(ctx: _Context, entry: ReplayedEntry) -> None:
    ctx.flush()  # the corrected event may be among the pending rows
    ref = entry.envelope["body"]["ref_index"]
    e = _EVENTS.c
    ctx.session.execute(update(_EVENTS).where(e.idx == ref).values(corrected_by=entry.index))
    ctx.session.execute(
        update(EPCIS_EVENTS).where(EPCIS_EVENTS.c.idx == ref).values(declared_error_idx=entry.index)
    )
    main = ctx.session.execute(
        select(e.level, e.gtin, e.lot, e.serial, e.sscc).where(e.idx == ref, e.seq == 0)
    ).first()
    keys = dict(main._mapping) if main is not None else {"level": "item"}
    ctx.event(entry, 0, keys.pop("level"), **keys)


def _epcis(ctx: _Context, entry: ReplayedEntry) -> None:
    b = entry.envelope["body"]
    ctx.epcis.append(  # bulk-inserted at flush
        {
            "event_hash": b["hash"],
            "idx": entry.index,
            "event_type": b["event_type"],
            "biz_step": b.get("biz_step"),
            "declared_error_idx": None,
        }
    )
    children: list[_Child] = [(c[0], c[1], c[2], c[3]) for c in b.get("children", [])]
    if b.get("parent") and b.get("action") in ("ADD", "DELETE"):
        (_pack if b["action"] == "ADD" else _unpack)(ctx, entry, b["parent"], children)
        return
    for seq, obj in enumerate(b.get("objects", [])):
        gtin, lot, serial, sscc = obj
        level = "unit" if sscc else "item" if serial else "batch" if lot else "product"
        ctx.event(entry, seq, level, gtin=gtin, lot=lot, serial=serial, sscc=sscc)


def _pick(entry: ReplayedEntry, *names: str) -> dict[str, Any]:
    return {name: entry.envelope["body"][name] for name in names}


_Changes = Callable[[dict[str, Any], ReplayedEntry], dict[str, Any]]
# kind -> the item columns an item- or unit-level event sets (the new state is in rules.RULES).
# fmt: off
_ITEM_CHANGES: dict[str, _Changes] = {
    "listing": lambda item, e: {**_pick(e, "platform", "shop_id", "listing_id"),
                                "lister": e.envelope["actor"]},
    "sale": lambda item, e: _pick(e, "order_id", "buyer_commitment", "price_cents", "currency"),
    "payment": lambda item, e: {"payment_idx": e.index},
    "shipment": lambda item, e: _pick(e, "waybill"),
    "delivery_scan": lambda item, e: {},
    "signing": lambda item, e: _pick(e, "signer_commitment"),
    "review": lambda item, e: {"review_idx": e.index},
    "follow_up_review": lambda item, e: {"follow_up_idx": e.index},
    "complaint": lambda item, e: {"complaint_count": item["complaint_count"] + 1},
    "return": lambda item, e: {},
    "refund": lambda item, e: {"refund_idx": e.index},
    "compensation": lambda item, e: {
        "compensation_cents": item["compensation_cents"] + e.envelope["body"]["amount_cents"]},
}
_HANDLERS: dict[str, Callable[[_Context, ReplayedEntry], None]] = {
    "product": _product,
    "production": _production,
    "serialisation": _serialisation,
    "inspection": lambda ctx, e: _batch_update(
        ctx, e, inspection_result=e.envelope["body"]["result"], inspection_idx=e.index),
    "recall": lambda ctx, e: _batch_update(
        ctx, e, status="recalled", recall_idx=e.index, recall_reason=e.envelope["body"]["reason"]),
    "aggregation": lambda ctx, e: _pack(ctx, e, e.envelope["body"]["sscc"],
                                        _children(e.envelope["body"])),
    "disaggregation": lambda ctx, e: _unpack(ctx, e, e.envelope["body"]["sscc"],
                                             _children(e.envelope["body"])),
    "correction": _correction,
    "epcis": _epcis,
    **{kind: _item_event for kind in _ITEM_CHANGES},
}
# fmt: on


def apply(session: Session, entries: Sequence[ReplayedEntry]) -> None:
    """Apply ``entries`` (in index order) to the trace tables; other kinds are skipped."""
    ctx = _Context(session)
    for entry in entries:
        kind = entry.envelope["kind"]
        if kind.startswith(PREFIX):
            handler = _HANDLERS.get(kind[len(PREFIX) :])
            if handler is not None:
                handler(ctx, entry)
    ctx.flush()


def apply_appended(session: Session, appended: Sequence[Appended]) -> None:
    """Apply entries just appended by a ``LogWriter``, exactly as replay would."""
    apply(session, [ReplayedEntry(a.index, a.leaf_hash, json.loads(a.data)) for a in appended])


PROJECTION = register(Projection("trace", TABLES, apply))
