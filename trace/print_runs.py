"""Print runs: reserve serials, record their production in the ledger, then render signed labels.

A run is two steps with different failure modes:

1. ``reserve_run`` — one ledger write transaction: the next ``count`` serials of
   the batch are taken from its counter, one ``serialisation`` entry per item is
   appended, and the run (its fixed serial range) is recorded.  All or nothing.
2. ``run_labels`` — a generator of signed label contents for exactly that range,
   which a writer streams to PDF, ZPL or a ZIP.  Ed25519 signatures are
   deterministic, so rendering a run again (after an interruption) produces the
   same labels: resuming never duplicates nor skips a serial.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from datetime import date, datetime

from sqlalchemy import DateTime, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from labels.keys import LabelSigningKey
from labels.signing import sign_label
from labels.templates import LabelContent
from ledger.actor import Actor
from ledger.base import Base
from ledger.sequencer import LogWriter
from trace import queries, services
from trace.errors import BadEvent, NotFound
from trace.identifiers import gtin as normalise_gtin
from trace.identifiers import lot as normalise_lot

__all__ = ["PrintRun", "SerialCounter", "reserve_run", "run_labels", "get_run", "serials_of",
           "MAX_RUN", "mark_rendered"]

MAX_RUN = 1_000_000
SERIAL_WIDTH = 10  # zero-padded decimal serials: AI 21 allows up to 20 characters


class SerialCounter(Base):
    """The next serial number of a batch's print runs."""

    __tablename__ = "trace_serial_counters"

    gtin: Mapped[str] = mapped_column(String(14), primary_key=True)
    lot: Mapped[str] = mapped_column(String(20), primary_key=True)
    next_no: Mapped[int] = mapped_column(Integer)


class PrintRun(Base):
    """A reserved range of serials and how far its labels were rendered."""

    __tablename__ = "trace_print_runs"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    gtin: Mapped[str] = mapped_column(String(14), index=True)
    lot: Mapped[str] = mapped_column(String(20))
    producer: Mapped[str] = mapped_column(String(200), index=True)
    first_no: Mapped[int] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(Integer)
    prefix: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    rendered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    rendered_format: Mapped[str | None] = mapped_column(String(16), nullable=True)


def serials_of(run: PrintRun) -> list[str]:
    """Return the run's serials, in order."""
    return [f"{run.prefix}{n:0{SERIAL_WIDTH}d}" for n in range(run.first_no,
                                                            run.first_no + run.count)]


def reserve_run(writer: LogWriter, actor: Actor, *, gtin: str, lot: str, count: int,
                now: datetime, prefix: str = "",
                progress: Callable[[int], None] | None = None) -> PrintRun:
    """Reserve ``count`` new serials of a batch and record their production (one transaction).

    :raises BadEvent: for a count outside 1..MAX_RUN or a prefix that is not 0-8 letters/digits.
    :raises NotFound, ForbiddenRole, RuleViolation, Duplicate: as ``services.serialise_items``.
    """
    if not 1 <= count <= MAX_RUN:
        raise BadEvent(f"count must be 1 to {MAX_RUN}, got {count}")
    if len(prefix) > 8 or not (prefix.isascii() and (prefix.isalnum() or prefix == "")):
        raise BadEvent(f"prefix must be up to 8 ASCII letters or digits, got {prefix!r}")
    gtin14, lot_ = normalise_gtin(gtin), normalise_lot(lot)
    session = writer.session
    counter = session.get(SerialCounter, (gtin14, lot_))  # under the ledger's write lock
    if counter is None:
        counter = SerialCounter(gtin=gtin14, lot=lot_, next_no=1)
        session.add(counter)
    run = PrintRun(id=secrets.token_hex(6), gtin=gtin14, lot=lot_, producer="",
                   first_no=counter.next_no, count=count, prefix=prefix, created_at=now)
    services.serialise_items(writer, actor, gtin=gtin14, lot=lot_, serials=serials_of(run),
                             at=now, progress=progress)
    batch = queries.find_batch(session, gtin14, lot_)
    assert batch is not None  # serialise_items refused an unknown batch
    run.producer = batch["producer"]
    counter.next_no += count
    session.add(run)
    session.flush()
    return run


def get_run(session: Session, run_id: str) -> PrintRun:
    """Return a print run.

    :raises NotFound: when there is no run ``run_id``.
    """
    run = session.get(PrintRun, run_id)
    if run is None:
        raise NotFound(f"no print run {run_id!r}")
    return run


def _as_date(value: object) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def run_labels(session: Session, run: PrintRun, *, base_url: str, key: LabelSigningKey,
               producer_name: str) -> Iterator[LabelContent]:
    """Yield the signed label content of every serial of ``run`` (same output every time)."""
    product = queries.find_product(session, run.gtin)
    batch = queries.find_batch(session, run.gtin, run.lot)
    if product is None or batch is None:
        raise NotFound(f"product or batch of run {run.id} is gone")
    production, expiry = _as_date(batch["production_date"]), _as_date(batch["expiry_date"])
    barcode = "ean13" if run.gtin.startswith("0") else "none"
    for serial in serials_of(run):
        signed = sign_label(run.gtin, run.lot, serial, key, expiry=expiry)
        yield LabelContent(uri=signed.uri(base_url), gtin=run.gtin, lot=run.lot, serial=serial,
                           product_name=product["name"], producer=producer_name,
                           production=production, expiry=expiry, barcode=barcode)


def mark_rendered(session: Session, run: PrintRun, fmt: str, now: datetime) -> None:
    """Record that the run's labels were rendered completely (the caller commits)."""
    run.rendered_at, run.rendered_format = now, fmt


def runs_of(session: Session, producer: str, limit: int = 50) -> list[PrintRun]:
    """Return a producer's latest print runs."""
    stmt = (select(PrintRun).where(PrintRun.producer == producer)
            .order_by(PrintRun.created_at.desc()).limit(limit))
    return list(session.scalars(stmt))
