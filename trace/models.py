"""Query tables of the trace package: projections of the ledger's ``trace.*`` entries.

Every row here is derived from ledger entries by :func:`trace.projection.apply`
(the services call it on what they append; ``flask ledger replay`` calls it on
everything), so the tables can be dropped and rebuilt exactly.  No surrogate
keys: every primary key comes from the entries (GS1 keys, ledger indexes), so a
rebuild gives identical rows on SQLite and PostgreSQL.  No foreign keys either:
rows are bulk-inserted in entry order by the projection.

Each query of :mod:`trace.queries` is an index lookup:

- ``trace_events (gtin, serial, idx)`` an item's history; ``(gtin, lot, level, idx)`` a batch's;
  ``(sscc, idx)`` a logistic unit's; ``order_id``, ``shop_id``, ``waybill`` lookups;
- ``trace_items`` primary key ``(gtin, lot, serial)``: every item of a batch, with the
  shop, order and consumer commitments a recall must reach; ``(gtin, serial)`` is unique
  (GS1 GenSpecs §3.2, AI 21: a serial is unique within its GTIN, whatever the lot);
- ``trace_unit_contents (child_gtin, child_lot)`` the logistic units a batch went into,
  ``(child_sscc)`` the units a unit went into (where-used climbs these).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, Date, Index, Integer, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from ledger.base import Base
from trace.events import CATEGORIES

__all__ = [
    "Product",
    "Batch",
    "Item",
    "LogisticUnit",
    "UnitContent",
    "TraceEvent",
    "EpcisEvent",
    "PRODUCTS",
    "BATCHES",
    "ITEMS",
    "UNITS",
    "CONTENTS",
    "EVENTS",
    "EPCIS_EVENTS",
    "TABLES",
]

_ID = 100  # platform, shop, order, listing ids and similar
_HEX = 64  # SHA-256 hex commitments


class Product(Base):
    """A product (GTIN-14) as its producer registered it."""

    __tablename__ = "trace_products"

    gtin: Mapped[str] = mapped_column(String(14), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(32))
    producer: Mapped[str] = mapped_column(String(200), index=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON)
    licence_category: Mapped[str | None] = mapped_column(String(64))
    registered_idx: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        CheckConstraint(
            "category IN ({})".format(", ".join(f"'{c}'" for c in CATEGORIES)), name="category"
        ),
    )


class Batch(Base):
    """A batch (GTIN + lot, AI 10): production, expiry, inspection and recall status."""

    __tablename__ = "trace_batches"

    gtin: Mapped[str] = mapped_column(String(14), primary_key=True)
    lot: Mapped[str] = mapped_column(String(20), primary_key=True)
    producer: Mapped[str] = mapped_column(String(200))
    production_date: Mapped[date] = mapped_column(Date)
    expiry_date: Mapped[date | None] = mapped_column(Date)
    place: Mapped[str | None] = mapped_column(String(13))
    status: Mapped[str] = mapped_column(String(16))  # active | recalled
    inspection_result: Mapped[str | None] = mapped_column(String(8))  # pass | fail (latest)
    inspection_idx: Mapped[int | None] = mapped_column(BigInteger)
    recall_idx: Mapped[int | None] = mapped_column(BigInteger)
    recall_reason: Mapped[str | None] = mapped_column(String(500))
    created_idx: Mapped[int] = mapped_column(BigInteger)


class Item(Base):
    """A serialised item and where it is in its lifecycle (see :mod:`trace.rules`)."""

    __tablename__ = "trace_items"

    gtin: Mapped[str] = mapped_column(String(14), primary_key=True)
    lot: Mapped[str] = mapped_column(String(20), primary_key=True)
    serial: Mapped[str] = mapped_column(String(20), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    created_idx: Mapped[int] = mapped_column(BigInteger)
    last_idx: Mapped[int] = mapped_column(BigInteger)
    sscc: Mapped[str | None] = mapped_column(String(18))  # the logistic unit it is in now
    platform: Mapped[str | None] = mapped_column(String(_ID))
    shop_id: Mapped[str | None] = mapped_column(String(_ID))
    listing_id: Mapped[str | None] = mapped_column(String(_ID))
    lister: Mapped[str | None] = mapped_column(String(200))  # actor id that listed it
    order_id: Mapped[str | None] = mapped_column(String(_ID))
    buyer_commitment: Mapped[str | None] = mapped_column(String(_HEX))
    price_cents: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    payment_idx: Mapped[int | None] = mapped_column(BigInteger)
    waybill: Mapped[str | None] = mapped_column(String(64))
    signer_commitment: Mapped[str | None] = mapped_column(String(_HEX))
    review_idx: Mapped[int | None] = mapped_column(BigInteger)
    follow_up_idx: Mapped[int | None] = mapped_column(BigInteger)
    complaint_count: Mapped[int] = mapped_column(Integer)
    refund_idx: Mapped[int | None] = mapped_column(BigInteger)
    compensation_cents: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        Index("ix_trace_items_gtin_serial", "gtin", "serial", unique=True),
        Index("ix_trace_items_order_id", "order_id"),
        Index("ix_trace_items_shop_id", "shop_id"),
        Index("ix_trace_items_sscc", "sscc"),
    )


class LogisticUnit(Base):
    """A logistic unit (SSCC, AI 00): a case or pallet that items or units are packed into."""

    __tablename__ = "trace_units"

    sscc: Mapped[str] = mapped_column(String(18), primary_key=True)
    parent_sscc: Mapped[str | None] = mapped_column(String(18))  # the unit it is in now
    first_idx: Mapped[int] = mapped_column(BigInteger)
    last_idx: Mapped[int] = mapped_column(BigInteger)


class UnitContent(Base):
    """One child of one aggregation (EPCIS AggregationEvent ADD); kept after unpacking.

    ``removed_idx`` is set by the disaggregation that took the child out, so where-used
    and recall see every unit a batch ever went into.  A child is an item (gtin +
    serial, lot when known), a quantity of a batch (gtin + lot, no serial) or a unit.
    """

    __tablename__ = "trace_unit_contents"

    parent_sscc: Mapped[str] = mapped_column(String(18), primary_key=True)
    added_idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    child_gtin: Mapped[str | None] = mapped_column(String(14))
    child_lot: Mapped[str | None] = mapped_column(String(20))
    child_serial: Mapped[str | None] = mapped_column(String(20))
    child_sscc: Mapped[str | None] = mapped_column(String(18))
    removed_idx: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        Index("ix_trace_unit_contents_batch", "child_gtin", "child_lot"),
        Index("ix_trace_unit_contents_item", "child_gtin", "child_serial"),
        Index("ix_trace_unit_contents_child_sscc", "child_sscc"),
    )


class TraceEvent(Base):
    """One event as it concerns one object: row ``seq`` 0 is the event's own target,
    rows 1.. the items it reached through aggregation (``via`` the unit) or, for a
    captured EPCIS event, every object it names."""

    __tablename__ = "trace_events"

    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(32))
    level: Mapped[str] = mapped_column(String(8))  # product | batch | item | unit
    source: Mapped[str] = mapped_column(String(8))  # native | epcis
    subject: Mapped[str] = mapped_column(String(200))
    actor: Mapped[str] = mapped_column(String(200))
    time: Mapped[str] = mapped_column(String(40))  # RFC 3339 with offset, as recorded
    gtin: Mapped[str | None] = mapped_column(String(14))
    lot: Mapped[str | None] = mapped_column(String(20))
    serial: Mapped[str | None] = mapped_column(String(20))
    sscc: Mapped[str | None] = mapped_column(String(18))
    via: Mapped[str | None] = mapped_column(String(18))
    place: Mapped[str | None] = mapped_column(String(200))
    order_id: Mapped[str | None] = mapped_column(String(_ID))
    shop_id: Mapped[str | None] = mapped_column(String(_ID))
    waybill: Mapped[str | None] = mapped_column(String(64))
    corrected_by: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        Index("ix_trace_events_item", "gtin", "serial", "idx"),
        Index("ix_trace_events_batch", "gtin", "lot", "level", "idx"),
        Index("ix_trace_events_sscc", "sscc", "idx"),
        Index("ix_trace_events_order_id", "order_id"),
        Index("ix_trace_events_shop_id", "shop_id"),
        Index("ix_trace_events_waybill", "waybill"),
    )


class EpcisEvent(Base):
    """A captured EPCIS event by its CBV 2.0 event hash (capture is idempotent on it)."""

    __tablename__ = "trace_epcis_events"

    event_hash: Mapped[str] = mapped_column(String(100), primary_key=True)
    idx: Mapped[int] = mapped_column(BigInteger)
    event_type: Mapped[str] = mapped_column(String(32))
    biz_step: Mapped[str | None] = mapped_column(String(200))
    declared_error_idx: Mapped[int | None] = mapped_column(BigInteger)


def _table(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


# Core tables, for the bulk inserts and updates of the projection and for index lookups.
PRODUCTS, BATCHES, ITEMS, UNITS, CONTENTS, EVENTS, EPCIS_EVENTS = (
    _table(m) for m in (Product, Batch, Item, LogisticUnit, UnitContent, TraceEvent, EpcisEvent)
)
# Projection tables in creation order (replay clears them in reverse).
TABLES = (PRODUCTS, BATCHES, ITEMS, UNITS, CONTENTS, EVENTS, EPCIS_EVENTS)


def _register() -> None:
    # Import here: the projection imports these models.
    from trace import projection  # noqa: F401  (registers the "trace" projection)


_register()
