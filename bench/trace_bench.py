#!/usr/bin/env python3
"""Trace benchmark: EPCIS bulk capture, serialisation, item history and recall scope.

Not a test: it prints a table of figures next to their targets.  Run from the checkout::

    python bench/trace_bench.py                        # SQLite (+ PostgreSQL if DATABASE_URL)
    python bench/trace_bench.py --db both --pg-url postgresql+psycopg://postgres@127.0.0.1/test
    python bench/trace_bench.py --quick                # small smoke run (about a minute)

PostgreSQL: the URL names a server and a database to connect to for administration; the
benchmark creates a database of its own (``bench_trace_<pid>_<random>``) on that server and
drops it at the end.  SQLite: a file in a temporary folder, removed at the end.

Everything goes through the real code path: ``ledger.sequencer.write_transaction`` (entries,
tiles, chain heads, head and a signed checkpoint per transaction, fork guard on) with the
use cases of ``trace.services`` and ``trace.epcis_capture.capture`` inside, and the read
functions of ``trace.queries`` in a fresh session per call (as a web request would).

One database per backend, built in this order:

1. products and a first batch; ``serialise_items`` of 100,000 serials in one call and one
   transaction (timed: events/s, commit included);
2. EPCIS 2.0 capture: documents of 1,000 ``ObjectEvent``s each (shaped like GS1's examples
   9.6.1/9.6.2: action OBSERVE, bizStep shipping/receiving, disposition, readPoint,
   bizLocation, bizTransactionList, two EPCs per event naming serialised items), each
   document passed as JSON bytes to ``capture`` in one write transaction (timed: events/s,
   parsing, schema validation, hashing and projection included).  Two kinds of documents:
   EPCs as GS1 Digital Links with the lot (``/01/<gtin>/10/<lot>/21/<serial>``) and as
   SGTIN EPC URNs (``urn:epc:id:sgtin:...``, as in GS1's examples: no lot, so capture
   looks each item up to find it).  Then, for comparison, GS1's schema check alone with
   ``jsonschema`` (what ``trace.epcis.EpcisSchema`` uses) and with ``jsonschema_rs`` (when
   installed), and the Digital-Link capture again with a ``jsonschema_rs`` schema object
   passed as ``capture(..., schema=...)``: what capture would cost with a faster validator;
3. fill: batches of 10,000 serialised items (production + ``serialise_items`` in one
   transaction each) up to the target size less what step 4 appends;
4. lifecycle: a 10,000-item recall batch (half its items packed into SSCC cases of 50 and
   the cases onto pallets of 10, the pallets listed, sold and shipped; the other half
   listed, sold and shipped one by one, every fourth one signed for) and 2,000 items of
   other batches listed, sold, shipped and signed for, each through ``record_event``,
   200 events per transaction;
5. settle (SQLite: WAL checkpoint; PostgreSQL: ``VACUUM (ANALYZE)`` of every table, what
   autovacuum does after a big fill), then measure ``queries.item_history`` on random items
   (p50/p99, separately for any item and for items with a lifecycle) and
   ``queries.recall_scope`` of the recall batch (first call and median of the repeats).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, create_engine, make_url, text  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from ledger.actor import Actor  # noqa: E402
from ledger.sequencer import LogWriter, write_transaction  # noqa: E402
from ledger.signer import LogSigner  # noqa: E402
from ledger.store import read_head  # noqa: E402
from trace import queries, services  # noqa: E402
from trace.epcis import EpcisSchema  # noqa: E402
from trace.epcis_capture import capture  # noqa: E402
from trace.events import commit  # noqa: E402
from web.db import make_engine  # noqa: E402

ORIGIN = "bench.trace.local/log"
DEFAULT_PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
AT = "2026-11-28T09:30:00+08:00"
COMPANY_PREFIX = "6901234"  # GS1 China (690), 7-digit company prefix
FILL_BATCH = 10_000  # serials per fill batch (one transaction each)
CASE_SIZE = 50  # items per SSCC case
PALLET_CASES = 10  # cases per pallet
EVENTS_PER_TX = 200  # lifecycle events per write transaction

PRODUCER = Actor("producer:acme", "producer")
MERCHANT = Actor("merchant:shop-1", "merchant")
LOGISTICS = Actor("logistics:sf", "logistics")
COURIER = Actor("courier:zhang", "courier")

# name -> (comparison, threshold, unit, databases the target applies to)
TARGETS: dict[str, tuple[str, float, str, tuple[str, ...]]] = {
    "serialise": (">=", 5_000, "events/s", ("sqlite",)),
    "capture_dl": (">=", 5_000, "events/s", ("sqlite",)),
    "capture_urn": (">=", 5_000, "events/s", ("sqlite",)),
    "capture_dl_rs": (">=", 5_000, "events/s", ("sqlite",)),
    "history_any_p99": ("<", 20.0, "ms", ("sqlite", "postgres")),
    "history_active_p99": ("<", 20.0, "ms", ("sqlite", "postgres")),
    "recall_first": ("<", 1000.0, "ms", ("sqlite", "postgres")),
    "recall_median": ("<", 1000.0, "ms", ("sqlite", "postgres")),
}


def metadata() -> Any:
    """Return the service's schema (web/models.py), or the ledger and trace tables alone."""
    try:
        from web.models import metadata as meta
    except Exception:  # another package mid-edit must not stop a trace benchmark
        import ledger.models  # noqa: F401
        import trace.models  # noqa: F401
        from ledger.base import Base

        meta = Base.metadata
    return meta


# --------------------------------------------------------------------------- identifiers


def _check_digit(body: str) -> str:
    """GS1 mod-10 check digit of ``body`` (weights 3,1,3,... from the right)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


def gtin14(item_ref: int) -> str:
    """GTIN-14: indicator 0, company prefix 6901234, 5-digit item reference, check digit."""
    body = f"0{COMPANY_PREFIX}{item_ref:05d}"
    return body + _check_digit(body)


def sscc(n: int) -> str:
    """SSCC: extension digit 0, company prefix 6901234, 9-digit serial reference, check."""
    body = f"0{COMPANY_PREFIX}{n:09d}"
    return body + _check_digit(body)


def sgtin_urn(gtin: str, serial: str) -> str:
    """EPC URN of an item (TDS 2.0 §6.3.1): company prefix . indicator+item ref . serial."""
    return f"urn:epc:id:sgtin:{COMPANY_PREFIX}.{gtin[0]}{gtin[1 + len(COMPANY_PREFIX):13]}.{serial}"


def item_link(gtin: str, lot: str, serial: str) -> str:
    return f"https://id.gs1.org/01/{gtin}/10/{lot}/21/{serial}"


GTINS = [gtin14(10 + i) for i in range(5)]


@dataclass
class BatchInfo:
    """A serialised batch: its serials are ``<prefix><i:06d>`` for i in range(count)."""

    gtin: str
    lot: str
    prefix: str
    count: int

    def serial(self, i: int) -> str:
        return f"{self.prefix}{i:06d}"

    def serials(self, start: int = 0, stop: int | None = None) -> list[str]:
        return [self.serial(i) for i in range(start, self.count if stop is None else stop)]


# --------------------------------------------------------------------------- databases


class Backend:
    """One database per run; ``url`` is what each engine connects to."""

    name = ""
    label = ""
    url = ""

    def fresh(self) -> None:
        raise NotImplementedError

    def settle(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def version(self) -> str:
        raise NotImplementedError

    def engine(self) -> Engine:
        return make_engine(self.url)


class SqliteBackend(Backend):
    name, label = "sqlite", "SQLite"

    def __init__(self, folder: Path) -> None:
        self._folder = folder

    def fresh(self) -> None:
        self.url = f"sqlite:///{self._folder / 'trace.db'}"
        engine = self.engine()
        metadata().create_all(engine)
        engine.dispose()

    def settle(self) -> None:
        """Fold the WAL back into the database file after the fill."""
        engine = self.engine()
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        engine.dispose()

    def close(self) -> None:
        pass

    def version(self) -> str:
        import sqlite3

        return sqlite3.sqlite_version


class PostgresBackend(Backend):
    name, label = "postgres", "PostgreSQL"

    def __init__(self, admin_url: str) -> None:
        if admin_url.startswith("postgresql://") or admin_url.startswith("postgres://"):
            admin_url = "postgresql+psycopg://" + admin_url.split("://", 1)[1]
        self._admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        self._base = make_url(admin_url)
        self._db = f"bench_trace_{os.getpid()}_{secrets.token_hex(3)}"

    def _drop(self) -> None:
        with self._admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self._db}" WITH (FORCE)'))

    def fresh(self) -> None:
        self._drop()
        with self._admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self._db}"'))
        self.url = self._base.set(database=self._db).render_as_string(hide_password=False)
        engine = self.engine()
        metadata().create_all(engine)
        engine.dispose()

    def settle(self) -> None:
        """VACUUM ANALYZE every table (what autovacuum does anyway after a big fill)."""
        engine = create_engine(self.url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            for table in metadata().sorted_tables:
                conn.execute(text(f'VACUUM (ANALYZE) "{table.name}"'))
        engine.dispose()

    def close(self) -> None:
        self._drop()
        self._admin.dispose()

    def version(self) -> str:
        with self._admin.connect() as conn:
            return str(conn.execute(text("SHOW server_version")).scalar())


# --------------------------------------------------------------------------- results


@dataclass
class Results:
    rows: list[tuple[str, str, str, str, str, str]] = field(default_factory=list)
    raw: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, backend: Backend, key: str, label: str, value: float, unit: str,
            extra: str = "") -> None:
        self.raw.setdefault(backend.name, {})[key] = value
        target, met = "-", "-"
        if key in TARGETS:
            op, threshold, _, dbs = TARGETS[key]
            target = f"{op} {threshold:,.0f} {unit}" if unit != "ms" else f"{op} {threshold:g} ms"
            if backend.name in dbs:
                ok = value >= threshold if op == ">=" else value < threshold
                met = "yes" if ok else "NO"
            else:
                target = f"({target})"
        shown = f"{value:,.2f} ms" if unit == "ms" else f"{value:,.0f} {unit}"
        self.rows.append((label, backend.label, shown + (f" {extra}" if extra else ""),
                          target, met, _load()))
        print(f"  {label:<44} {backend.label:<10} {self.rows[-1][2]:<30} "
              f"target {target:<20} met {met:<4} load {_load()}", flush=True)


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


@contextmanager
def profiled(enabled: bool, title: str, top: int = 25) -> Iterator[None]:
    if not enabled:
        yield
        return
    prof = cProfile.Profile()
    prof.enable()
    try:
        yield
    finally:
        prof.disable()
        for order in ("tottime", "cumulative"):
            out = io.StringIO()
            pstats.Stats(prof, stream=out).sort_stats(order).print_stats(top)
            print(f"\n---- cProfile: {title} (sorted by {order}) ----")
            print("\n".join(out.getvalue().splitlines()[:top + 12]), flush=True)


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def progress(message: str) -> None:
    print(f"    {time.strftime('%H:%M:%S')} {message}", flush=True)


# --------------------------------------------------------------------------- building


class Builder:
    """Writes the benchmark's data through the services, one write transaction at a time."""

    def __init__(self, sm: sessionmaker[Session], signer: LogSigner) -> None:
        self.sm = sm
        self.signer = signer
        self.batches: list[BatchInfo] = []
        self._lots = 0
        self._clock = datetime(2026, 11, 28, 1, 0, tzinfo=timezone.utc)

    @contextmanager
    def tx(self) -> Iterator[LogWriter]:
        with self.sm() as session:
            with write_transaction(session, self.signer) as writer:
                yield writer

    def size(self) -> int:
        with self.sm() as session:
            return read_head(session).size

    def products(self) -> None:
        with self.tx() as w:
            for n, gtin in enumerate(GTINS):
                services.register_product(
                    w, PRODUCER, gtin=gtin, name=f"婴儿奶粉 {n}", name_en=f"Infant formula {n}",
                    category="food", attributes={"net_content": "800 g"}, at=AT,
                )

    def new_batch(self, count: int) -> BatchInfo:
        n = self._lots
        self._lots += 1
        batch = BatchInfo(GTINS[n % len(GTINS)], f"L2026-{n:04d}", f"S{n:04d}", count)
        self.batches.append(batch)
        return batch

    def produce(self, w: LogWriter, batch: BatchInfo) -> None:
        services.create_batch(
            w, PRODUCER, gtin=batch.gtin, lot=batch.lot, production_date="2026-11-01",
            expiry_date="2028-11-01", place="6901234000009", at=AT,
        )

    def serialise(self, w: LogWriter, batch: BatchInfo) -> range:
        return services.serialise_items(
            w, PRODUCER, gtin=batch.gtin, lot=batch.lot, serials=batch.serials(), at=AT,
        )

    def fill(self, target: int) -> tuple[int, float]:
        """Serialise batches of FILL_BATCH items until the log holds ``target`` entries."""
        size = self.size()
        start, added = time.perf_counter(), 0
        last_report = start
        while size < target:
            n = min(FILL_BATCH, target - size - 1)  # + 1 production entry
            if n < 1:
                break
            batch = self.new_batch(n)
            with self.tx() as w:
                self.produce(w, batch)
                self.serialise(w, batch)
                size = w.size
            added += n + 1
            if time.perf_counter() - last_report > 30:
                last_report = time.perf_counter()
                progress(f"filled {size:,} entries ({added / (last_report - start):,.0f}/s)")
        return added, time.perf_counter() - start

    # -- EPCIS documents

    def epcis_document(self, batch: BatchInfo, first: int, events: int, urn: bool) -> bytes:
        """An EPCISDocument of ``events`` ObjectEvents, each naming 2 items of ``batch``."""
        event_list = []
        for e in range(events):
            self._clock += timedelta(milliseconds=137)
            when = self._clock.astimezone(timezone(timedelta(hours=8)))
            i = (first + 2 * e) % (batch.count - 1)
            serials = [batch.serial(i), batch.serial(i + 1)]
            epcs = [sgtin_urn(batch.gtin, s) if urn else item_link(batch.gtin, batch.lot, s)
                    for s in serials]
            shipping = e % 2 == 0
            event_list.append({
                "eventID": f"urn:uuid:{uuid.UUID(int=random.getrandbits(128), version=4)}",
                "type": "ObjectEvent",
                "action": "OBSERVE",
                "bizStep": "shipping" if shipping else "receiving",
                "disposition": "in_transit" if shipping else "in_progress",
                "epcList": epcs,
                "eventTime": when.isoformat(timespec="milliseconds"),
                "eventTimeZoneOffset": "+08:00",
                "readPoint": {"id": f"urn:epc:id:sgln:{COMPANY_PREFIX}.{e % 97:05d}.0"},
                "bizLocation": {"id": f"urn:epc:id:sgln:{COMPANY_PREFIX}.{e % 13:05d}.0"},
                "bizTransactionList": [
                    {"type": "po",
                     "bizTransaction": f"http://transaction.acme.example/po/{first + e}"}
                ],
            })
        doc = {
            "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
            "id": f"https://id.example.org/document/{first}",
            "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": self._clock.isoformat().replace("+00:00", "Z"),
            "epcisBody": {"eventList": event_list},
        }
        return json.dumps(doc).encode()

    # -- lifecycle

    def record_all(self, calls: Sequence[tuple[Actor, str, dict[str, Any]]],
                   per_tx: int = EVENTS_PER_TX) -> tuple[int, float]:
        """Record ``calls`` (actor, kind, body) through ``record_event``, per_tx per transaction."""
        start = time.perf_counter()
        for i in range(0, len(calls), per_tx):
            with self.tx() as w:
                for actor, kind, body in calls[i:i + per_tx]:
                    services.record_event(w, actor, kind, body, at=AT)
        return len(calls), time.perf_counter() - start


def _key(batch: BatchInfo, i: int) -> dict[str, str]:
    return {"gtin": batch.gtin, "lot": batch.lot, "serial": batch.serial(i)}


Call = tuple[Actor, str, dict[str, Any]]


def item_lifecycle(target: dict[str, str], n: int, sign: bool) -> list[Call]:
    """listing, sale, shipment (and signing) of one item or unit ``target``."""
    buyer, _ = commit(f"buyer-account-{n}")
    calls: list[Call] = [
        (MERCHANT, "listing", {**target, "platform": "tmall", "shop_id": MERCHANT.id,
                               "listing_id": f"LST-{n}"}),
        (MERCHANT, "sale", {**target, "order_id": f"ORD-{n}", "buyer_commitment": buyer,
                            "price_cents": 25_900, "currency": "CNY"}),
        (MERCHANT if "serial" in target else LOGISTICS, "shipment",
         {**target, "waybill": f"SF{n:010d}", "carrier": "SF Express", "weight_g": 1_200}),
    ]
    if sign:
        signer, _ = commit(f"signer-{n}")
        calls.append((COURIER, "signing", {**target, "signer_commitment": signer}))
    return calls


class RustSchema:
    """GS1's EPCIS schema checked by jsonschema_rs (a prototype of a faster ``EpcisSchema``).

    Same interface as ``trace.epcis.EpcisSchema.problems``; used only for the row that shows
    how much of capture's time is the schema check.  None when jsonschema_rs is missing.
    """

    def __init__(self, validator: Any) -> None:
        self._validator = validator

    @classmethod
    def load(cls) -> RustSchema | None:
        try:
            import jsonschema_rs
        except ImportError:
            return None
        path = ROOT / "trace" / "standards" / "EPCIS-JSON-Schema.json"
        schema = json.loads(path.read_text(encoding="utf-8"))
        return cls(jsonschema_rs.Draft7Validator(schema, validate_formats=True))

    def problems(self, document: Any) -> list[str]:
        out = []
        for error in self._validator.iter_errors(document):
            where = "/".join(str(p) for p in error.instance_path) or "(document)"
            out.append(f"{where}: {error.message}")
        return sorted(out)


# --------------------------------------------------------------------------- measurements


def bench_history(sm: sessionmaker[Session], keys: Sequence[tuple[str, str, str]],
                  samples: int, seed: int) -> tuple[list[float], list[float], list[int]]:
    """Return wall-clock and this process's CPU times (ms) of item_history, and event counts.

    CPU time tells contention apart from work: on a loaded machine wall > CPU.
    """
    rng = random.Random(seed)
    times, cpu, lengths = [], [], []
    for _ in range(samples):
        gtin, lot, serial = rng.choice(keys)
        with sm() as session:
            start, start_cpu = time.perf_counter(), time.process_time()
            history = queries.item_history(session, gtin, lot, serial)
            times.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - start_cpu) * 1000)
        lengths.append(len(history.events))
    return times, cpu, lengths


def bench_recall(sm: sessionmaker[Session], batch: BatchInfo,
                 repeats: int) -> tuple[list[float], queries.RecallScope]:
    times = []
    scope = None
    for _ in range(repeats):
        with sm() as session:
            start = time.perf_counter()
            scope = queries.recall_scope(session, batch.gtin, batch.lot)
            times.append((time.perf_counter() - start) * 1000)
    assert scope is not None
    return times, scope


# --------------------------------------------------------------------------- driver


@dataclass
class Plan:
    size: int  # ledger entries to reach before the read measurements
    serialise: int  # serials in the timed serialise_items call
    documents: int  # EPCIS documents per kind (digital links, URNs)
    events_per_doc: int
    recall_items: int
    lifecycle_items: int
    samples: int
    recall_repeats: int


def run_backend(backend: Backend, plan: Plan, results: Results, work: Path,
                profile: bool) -> None:
    print(f"\n== {backend.label} {backend.version()}", flush=True)
    backend.fresh()
    engine = backend.engine()
    sm = sessionmaker(engine, expire_on_commit=False)
    signer = LogSigner.from_instance(work / backend.name, ORIGIN)
    b = Builder(sm, signer)
    b.products()

    # 1a. serialise_items: one call, one transaction.
    first = b.new_batch(plan.serialise)
    with b.tx() as w:
        b.produce(w, first)
    with profiled(profile, f"{backend.label} serialise_items {plan.serialise:,}"):
        start = time.perf_counter()
        with b.tx() as w:
            done = b.serialise(w, first)
        elapsed = time.perf_counter() - start
    assert len(done) == plan.serialise
    results.add(backend, "serialise", f"serialise_items, {plan.serialise:,} in one call",
                plan.serialise / elapsed, "events/s", f"({elapsed:.1f} s)")

    # 1b. EPCIS capture: documents of events_per_doc ObjectEvents, one transaction each.
    schema = EpcisSchema.packaged()
    rng_first = 0
    for urn in (False, True):
        docs = []
        for _ in range(plan.documents):
            docs.append(b.epcis_document(first, rng_first, plan.events_per_doc, urn))
            rng_first += 2 * plan.events_per_doc
        spent = 0.0
        what = "SGTIN URNs" if urn else "Digital Links"
        with profiled(profile, f"{backend.label} capture ({what})"):
            for doc in docs:
                start = time.perf_counter()
                with b.tx() as w:
                    result = capture(w, LOGISTICS, doc, schema=schema)
                spent += time.perf_counter() - start
                assert len(result.captured) == plan.events_per_doc, len(result.captured)
        events = plan.documents * plan.events_per_doc
        results.add(backend, "capture_urn" if urn else "capture_dl",
                    f"EPCIS capture, {plan.events_per_doc:,}/doc, {what}", events / spent,
                    "events/s", f"({plan.documents} docs, {spent:.1f} s)")
    # What capture spends on the schema alone (the same documents, no database).
    doc = json.loads(b.epcis_document(first, 0, plan.events_per_doc, False))
    start = time.perf_counter()
    assert schema.problems(doc) == []
    results.add(backend, "schema_only", "  schema validation alone (jsonschema)",
                plan.events_per_doc / (time.perf_counter() - start), "events/s")
    fast = RustSchema.load()
    if fast is None:
        results.notes.append("jsonschema_rs not installed: no capture row with it")
    else:
        start = time.perf_counter()
        assert fast.problems(doc) == []
        results.add(backend, "schema_only_rs", "  schema validation alone (jsonschema_rs)",
                    plan.events_per_doc / (time.perf_counter() - start), "events/s")
        # The same capture with the schema check done by jsonschema_rs (capture's ``schema``
        # parameter): what the rest of the capture path costs.
        docs = []
        for _ in range(plan.documents):
            docs.append(b.epcis_document(first, rng_first, plan.events_per_doc, False))
            rng_first += 2 * plan.events_per_doc
        spent = 0.0
        with profiled(profile, f"{backend.label} capture (Digital Links, jsonschema_rs)"):
            for doc_bytes in docs:
                start = time.perf_counter()
                with b.tx() as w:
                    result = capture(w, LOGISTICS, doc_bytes, schema=fast)  # type: ignore[arg-type]
                spent += time.perf_counter() - start
                assert len(result.captured) == plan.events_per_doc, len(result.captured)
        events = plan.documents * plan.events_per_doc
        results.add(backend, "capture_dl_rs",
                    f"EPCIS capture, {plan.events_per_doc:,}/doc, Digital Links, jsonschema_rs",
                    events / spent, "events/s", f"({plan.documents} docs, {spent:.1f} s)")

    # 3. Fill with serialised batches, leaving room for the lifecycle events.
    lifecycle_entries = (plan.recall_items + 1  # recall batch: production + serialisation
                         + (plan.recall_items // 2) * 3 + (plan.recall_items // 2) // 4
                         + plan.lifecycle_items * 4)
    before = b.size()
    added, spent = b.fill(plan.size - lifecycle_entries)
    results.add(backend, "fill", f"fill {before:,} -> {b.size():,} (10,000/tx)",
                added / spent if spent else 0.0, "entries/s", f"({spent:.0f} s)")

    # 4. Lifecycle: the recall batch and items of other batches.
    recall = b.new_batch(plan.recall_items)
    with b.tx() as w:
        b.produce(w, recall)
        b.serialise(w, recall)
    packed = plan.recall_items // 2
    calls: list[Call] = []
    cases = []
    for c, i in enumerate(range(0, packed, CASE_SIZE)):
        case = sscc(1_000 + c)
        cases.append(case)
        calls.append((PRODUCER, "aggregation",
                      {"sscc": case, "items": [_key(recall, j)
                                               for j in range(i, min(i + CASE_SIZE, packed))]}))
    pallets = []
    for p, i in enumerate(range(0, len(cases), PALLET_CASES)):
        pallet = sscc(900_000 + p)
        pallets.append(pallet)
        calls.append((LOGISTICS, "aggregation", {"sscc": pallet,
                                                 "units": cases[i:i + PALLET_CASES]}))
    n, spent = b.record_all(calls, per_tx=20)
    progress(f"packed {packed:,} items into {len(cases)} cases on {len(pallets)} pallets "
             f"({n} events, {spent:.1f} s)")
    calls = [c for p, pallet in enumerate(pallets)
             for c in item_lifecycle({"sscc": pallet}, 900_000 + p, sign=False)]
    n, spent = b.record_all(calls, per_tx=3)
    results.add(backend, "pallet_event", "record_event on a pallet (500 items), mean",
                spent / n * 1000, "ms", f"({n} events)")
    calls = [c for i in range(packed, plan.recall_items)
             for c in item_lifecycle(_key(recall, i), i, sign=i % 4 == 0)]
    active: list[tuple[str, str, str]] = []
    others = [bt for bt in b.batches if bt is not recall]
    per_batch = max(1, plan.lifecycle_items // len(others) + 1)
    for bt in others:
        for i in range(min(per_batch, bt.count)):
            if len(active) >= plan.lifecycle_items:
                break
            active.append((bt.gtin, bt.lot, bt.serial(i)))
            calls += item_lifecycle(_key(bt, i), 100_000 + len(active), sign=True)
    n, spent = b.record_all(calls)
    results.add(backend, "record_event", f"record_event, item events ({EVENTS_PER_TX}/tx)",
                n / spent, "events/s", f"({n:,} events)")
    active += [(recall.gtin, recall.lot, s) for s in recall.serials()]
    added, spent = b.fill(plan.size)  # top up to the exact size
    final = b.size()
    progress(f"ledger holds {final:,} entries, {sum(bt.count for bt in b.batches):,} items "
             f"in {len(b.batches)} batches")
    results.notes.append(f"{backend.label}: {final:,} ledger entries, "
                         f"{sum(bt.count for bt in b.batches):,} items in {len(b.batches)} batches")

    # 5. Reads, after settling.
    start = time.perf_counter()
    backend.settle()
    progress(f"settled in {time.perf_counter() - start:.1f} s")
    everyone = [(bt.gtin, bt.lot, bt.serial(i)) for bt in b.batches
                for i in range(bt.count)]
    bench_history(sm, everyone, 50, seed=1)  # warm the pool and caches a little
    label = f"{final / 1e6:.2f}M" if final >= 1_000_000 else f"{final:,}"
    for key, pool, what in (("any", everyone, "any item"),
                            ("active", active, "item with lifecycle")):
        times, cpu, lengths = bench_history(sm, pool, plan.samples, seed=2 if key == "any" else 3)
        extra = f"({plan.samples} samples, {statistics.mean(lengths):.1f} events avg)"
        results.add(backend, f"history_{key}_p50", f"item_history p50 @ {label}, {what}",
                    percentile(times, 50), "ms",
                    f"(client CPU {percentile(cpu, 50):.2f} ms) {extra}")
        results.add(backend, f"history_{key}_p99", f"item_history p99 @ {label}, {what}",
                    percentile(times, 99), "ms", f"(client CPU {percentile(cpu, 99):.2f} ms)")
    if profile:
        with profiled(True, f"{backend.label} item_history, items with lifecycle"):
            bench_history(sm, active, plan.samples, seed=4)

    times, scope = bench_recall(sm, recall, plan.recall_repeats)
    summary = (f"({scope.items:,} items, {len(scope.units)} units, {len(scope.orders):,} orders, "
               f"{len(scope.buyer_commitments):,} buyers, {len(scope.signer_commitments):,} "
               f"signers)")
    results.add(backend, "recall_first", f"recall_scope, {plan.recall_items:,}-item batch, first",
                times[0], "ms", summary)
    results.add(backend, "recall_median",
                f"recall_scope, {plan.recall_items:,}-item batch, median of {len(times)}",
                statistics.median(times), "ms")
    assert scope.items == plan.recall_items
    assert len(scope.units) == len(cases) + len(pallets)
    if profile:
        with profiled(True, f"{backend.label} recall_scope"):
            bench_recall(sm, recall, 3)
    engine.dispose()


def machine() -> dict[str, str]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return {"nproc": str(os.cpu_count()), "cpu": cpu, "ram": ram,
            "python": sys.version.split()[0], "date": time.strftime("%Y-%m-%d %H:%M %Z")}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default=None,
                        help="default: sqlite, plus postgres when DATABASE_URL or --pg-url is set")
    parser.add_argument("--pg-url", default=None,
                        help="PostgreSQL server to create the bench database on "
                             f"(default: $DATABASE_URL if PostgreSQL, else {DEFAULT_PG_ADMIN})")
    parser.add_argument("--size", type=int, default=None,
                        help="ledger entries before the history and recall measurements "
                             "(default 1,000,000; 80,000 with --quick)")
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile serialisation, capture, item_history and recall_scope")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--keep-sqlite", type=Path, default=None, metavar="PATH",
                        help="keep the SQLite database at PATH (to inspect query plans)")
    args = parser.parse_args(argv)

    env_url = os.environ.get("DATABASE_URL", "")
    pg_url = args.pg_url or (env_url if env_url.startswith("postgres") else None)
    db = args.db or ("both" if pg_url else "sqlite")
    if db in ("postgres", "both") and not pg_url:
        pg_url = DEFAULT_PG_ADMIN
    if args.quick:
        plan = Plan(size=80_000, serialise=20_000, documents=2, events_per_doc=1_000,
                    recall_items=2_000, lifecycle_items=200, samples=100, recall_repeats=3)
        if args.size is not None:
            plan.size = args.size
    else:
        plan = Plan(size=args.size or 1_000_000, serialise=100_000, documents=5,
                    events_per_doc=1_000,
                    recall_items=10_000, lifecycle_items=2_000, samples=500, recall_repeats=5)

    info = machine()
    print(f"trace bench {info['date']}: {info['nproc']} cores ({info['cpu']}), {info['ram']}, "
          f"Python {info['python']}; load avg {_load()}")
    print(f"plan: {plan}")
    results = Results()
    work = Path(tempfile.mkdtemp(prefix="trace-bench-"))
    backends: list[Backend] = []
    try:
        if db in ("sqlite", "both"):
            backends.append(SqliteBackend(work))
        if db in ("postgres", "both"):
            assert pg_url is not None
            backends.append(PostgresBackend(pg_url))
        for backend in backends:
            info[f"{backend.name}_version"] = backend.version()
            run_backend(backend, plan, results, work, args.profile)
    finally:
        for backend in backends:
            backend.close()
        if args.keep_sqlite and (work / "trace.db").exists():
            shutil.move(str(work / "trace.db"), args.keep_sqlite)
        shutil.rmtree(work, ignore_errors=True)

    print_table(results, info)
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "plan": plan.__dict__,
                                         "figures": results.raw, "notes": results.notes},
                                        indent=2))
    return 0


def print_table(results: Results, info: dict[str, str]) -> None:
    head = ("figure", "database", "value", "target", "met", "load 1/5/15")
    widths = [max(len(str(r[i])) for r in [head, *results.rows]) for i in range(len(head))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"

    print(f"\nMachine: {info['nproc']} cores, {info['cpu']}, {info['ram']}, "
          f"Python {info['python']}, "
          + ", ".join(f"{k.split('_')[0]} {v}" for k, v in info.items() if k.endswith("_version"))
          + f"; {info['date']}")
    print(line(head))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in results.rows:
        print(line(row))
    for note in sorted(set(results.notes)):
        print(f"note: {note}")


if __name__ == "__main__":
    raise SystemExit(main())
