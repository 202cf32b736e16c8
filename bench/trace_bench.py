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

The process tunes its garbage collector as the service's processes do (``wsgi.py`` calls
``web.runtime.tune_gc``).  PostgreSQL: ``ANALYZE`` after the bulk serialisation and
during the fill, as autovacuum would (it is off on these machines' server).

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
import json
import os
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
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import Any

import common
from common import Backend, Results, gs1_check_digit, percentile, progress

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from ledger.actor import Actor  # noqa: E402
from ledger.sequencer import LogWriter, write_transaction  # noqa: E402
from ledger.signer import LogSigner  # noqa: E402
from ledger.store import read_head  # noqa: E402
from web.runtime import tune_gc  # noqa: E402
from trace import queries, services  # noqa: E402
from trace.epcis import EpcisSchema  # noqa: E402
from trace.epcis_capture import capture  # noqa: E402
from trace.events import commit  # noqa: E402

ORIGIN = "bench.trace.local/log"
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
TARGETS: common.Targets = {
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
    return common.service_metadata("ledger.models", "trace.models")


# --------------------------------------------------------------------------- identifiers


def gtin14(item_ref: int) -> str:
    """GTIN-14: indicator 0, company prefix 6901234, 5-digit item reference, check digit."""
    body = f"0{COMPANY_PREFIX}{item_ref:05d}"
    return body + gs1_check_digit(body)


def sscc(n: int) -> str:
    """SSCC: extension digit 0, company prefix 6901234, 9-digit serial reference, check."""
    body = f"0{COMPANY_PREFIX}{n:09d}"
    return body + gs1_check_digit(body)


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


class SqliteBackend(common.SqliteBackend):
    """``trace.db`` in ``folder``."""

    def __init__(self, folder: Path) -> None:
        super().__init__(metadata)
        self._folder = folder

    def fresh(self) -> None:
        self.url = f"sqlite:///{self._folder / 'trace.db'}"
        self.create_schema()


class PostgresBackend(common.PostgresBackend):
    """``bench_trace_<pid>_<random>``."""

    def __init__(self, admin_url: str) -> None:
        super().__init__(admin_url, f"bench_trace_{os.getpid()}_{secrets.token_hex(3)}",
                         metadata)

    def settle(self) -> None:
        """VACUUM ANALYZE every table (what autovacuum does anyway after a big fill)."""
        self.vacuum([table.name for table in metadata().sorted_tables])


# --------------------------------------------------------------------------- profiling


profiled = partial(common.profiled, top=25,
                   orders=(("tottime", "tottime"), ("cumulative", "cumulative")))


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
            if len(self.batches) % 5 == 0:
                with self.sm() as session:
                    common.analyze(session.get_bind().engine)
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
    common.analyze(engine)  # after a bulk load, as autovacuum would (PostgreSQL)

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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    common.add_db_arguments(parser)
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
    tune_gc()  # as the service's processes are (wsgi.py, web/runtime.py)

    db, pg_url = common.choose_databases(args)
    if args.quick:
        plan = Plan(size=80_000, serialise=20_000, documents=2, events_per_doc=1_000,
                    recall_items=2_000, lifecycle_items=200, samples=100, recall_repeats=3)
        if args.size is not None:
            plan.size = args.size
    else:
        plan = Plan(size=args.size or 1_000_000, serialise=100_000, documents=5,
                    events_per_doc=1_000,
                    recall_items=10_000, lifecycle_items=2_000, samples=500, recall_repeats=5)

    info = common.machine()
    common.print_banner("trace", info)
    print(f"plan: {plan}")
    results = Results(TARGETS, widths=(44, 30, 20))
    work = Path(tempfile.mkdtemp(prefix="trace-bench-"))
    try:
        common.run_backends(db, pg_url, info, lambda: SqliteBackend(work), PostgresBackend,
                            lambda backend: run_backend(backend, plan, results, work, args.profile))
    finally:
        if args.keep_sqlite and (work / "trace.db").exists():
            shutil.move(str(work / "trace.db"), args.keep_sqlite)
        shutil.rmtree(work, ignore_errors=True)

    common.print_table(results.rows, results.notes, info)
    if args.json:
        common.write_figures(args.json, info, plan, results.raw, results.notes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
