#!/usr/bin/env python3
"""Ledger benchmark: append throughput, inclusion-proof latency and audit speed.

Not a test: it prints a table of figures next to their targets.  Run from the checkout::

    python bench/ledger_bench.py                       # SQLite (+ PostgreSQL if DATABASE_URL)
    python bench/ledger_bench.py --db both --pg-url postgresql+psycopg://postgres@127.0.0.1/test
    python bench/ledger_bench.py --quick               # small smoke run (about a minute)

PostgreSQL: the URL names a server and a database to connect to for administration; the
benchmark creates a database of its own (``bench_ledger_<pid>``) on that server and drops it
at the end.  SQLite: files in a temporary folder, removed at the end.

What is measured (all through the real code path: ``ledger.sequencer.append``, which builds
each RFC 8785 entry, hashes it, writes entries, tiles, chain heads, head and a signed
checkpoint in one transaction, with the signer's fork guard on):

- single appends/s: one entry per transaction, a new session per transaction;
- batch appends/s: batches of 1,000 entries per transaction;
- concurrent appends/s: 8 writer processes (multiprocessing, an engine each) appending
  batches of 100 to the same log, wall-clock from a common start barrier to the last commit;
- inclusion-proof latency p50/p99: ``store.inclusion_proof(session, i, size)`` for random
  ``i`` against the current tree size, a fresh session per call (as in a web request, so the
  tile rows are really read), after filling the log to 10k / 100k / 1M entries and letting
  the database settle (PostgreSQL: VACUUM ANALYZE of the ledger tables; SQLite: WAL checkpoint);
- audit entries/s: ``ledger.audit.audit`` over the whole log at each size (from
  ``ledger.audit.PARALLEL_MIN_SIZE`` entries it uses two processes), and at the largest
  size also with ``workers=1`` (one process).

Entries are realistic (about 270 bytes): trace events about items such as
``item:06901234567892:L2026:SN000123``, spread over many items, so both new chains and
chain-head updates occur.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import Any

import common
from common import Backend, Results, percentile

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from ledger import audit as ledger_audit  # noqa: E402
from ledger import store  # noqa: E402
from ledger.sequencer import NewEntry, append  # noqa: E402
from ledger.signer import LogSigner  # noqa: E402
from web.db import make_engine  # noqa: E402
from web.runtime import tune_gc  # noqa: E402

ORIGIN = "bench.trace.local/log"
WRITERS = 8
WRITER_BATCH = 100
BATCH = 1_000
FILL_BATCH = 10_000

# name -> (comparison, threshold, unit, databases the target applies to)
TARGETS: common.Targets = {
    "batch": (">=", 20_000, "entries/s", ("sqlite",)),
    "concurrent": (">=", 3_000, "entries/s", ("postgres",)),
    "proof_p99@1000000": ("<", 5.0, "ms", ("sqlite", "postgres")),
    "audit@1000000": (">=", 200_000, "entries/s", ("sqlite", "postgres")),
}


def metadata() -> Any:
    """Return the service's schema (web/models.py), or the ledger tables alone as a fallback."""
    return common.service_metadata("ledger.models")


# --------------------------------------------------------------------------- entries


def _gtin14(base: int) -> str:
    """Return a GTIN-14 (leading 0 + GTIN-13 from the 690-693 Chinese prefix) with check digit."""
    body = f"0{base:012d}"[:13]
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


GTINS = [_gtin14(690123456000 + 789 * i) for i in range(40)]
KINDS = ["trace.produced", "trace.shipment", "trace.received", "trace.scan", "trace.sold"]
SITES = [f"sgln:6901234.{n:05d}.0" for n in range(1, 60)]
ACTORS = [f"producer:acme-{n:03d}" for n in range(12)] + ["logistics:sf-express", "merchant:jd-77"]


class EntryFactory:
    """Deterministic stream of realistic NewEntry values about a pool of items."""

    def __init__(self, items: int, seed: int) -> None:
        self._items = max(1, items)
        self._rng = random.Random(seed)
        self._clock = datetime(2026, 11, 28, 8, 0, tzinfo=timezone.utc)

    def subject(self, item: int) -> str:
        gtin = GTINS[item % len(GTINS)]
        lot = 2026 + (item // len(GTINS)) % 3
        return f"item:{gtin}:L{lot}:SN{item:06d}"

    def make(self, count: int) -> list[NewEntry]:
        rng, out = self._rng, []
        for _ in range(count):
            self._clock += timedelta(microseconds=rng.randrange(1, 2_000_000))
            kind = rng.choice(KINDS)
            body: dict[str, Any] = {
                "event": kind.split(".", 1)[1],
                "site": rng.choice(SITES),
                "qty": rng.randrange(1, 500),
                "ref": f"PO-2026-{rng.randrange(1_000_000):06d}",
            }
            out.append(NewEntry(
                kind=kind,
                time=self._clock.isoformat(timespec="microseconds").replace("+00:00", "Z"),
                actor=rng.choice(ACTORS),
                subject=self.subject(rng.randrange(self._items)),
                body=body,
            ))
        return out


# --------------------------------------------------------------------------- databases


class SqliteBackend(common.SqliteBackend):
    """A fresh file per phase in ``folder``."""

    def __init__(self, folder: Path) -> None:
        super().__init__(metadata)
        self._folder = folder
        self._n = 0

    def fresh(self) -> None:
        self._n += 1
        self.url = f"sqlite:///{self._folder / f'bench{self._n}.db'}"
        self.create_schema()


class PostgresBackend(common.PostgresBackend):
    """``bench_ledger_<pid>``, created afresh per phase."""

    def __init__(self, admin_url: str) -> None:
        super().__init__(admin_url, f"bench_ledger_{os.getpid()}", metadata)

    def settle(self) -> None:
        """VACUUM ANALYZE the ledger tables (what autovacuum does anyway after a big fill),
        so that proof latency is not measured while autovacuum scans a million new rows."""
        self.vacuum([table.name for table in metadata().sorted_tables
                     if table.name.startswith("ledger_")])


# --------------------------------------------------------------------------- measurements


profiled = partial(common.profiled, top=18)


def _signer(instance: Path) -> LogSigner:
    return LogSigner.from_instance(instance, ORIGIN)


def bench_single(sm: sessionmaker[Session], signer: LogSigner, factory: EntryFactory,
                 count: int) -> float:
    entries = factory.make(count)
    start = time.perf_counter()
    for entry in entries:
        with sm() as session:
            append(session, signer, [entry])
    return count / (time.perf_counter() - start)


def bench_batches(sm: sessionmaker[Session], signer: LogSigner, factory: EntryFactory,
                  batches: int, size: int) -> float:
    """Append ``batches`` batches of ``size``; time only the append calls."""
    spent = 0.0
    for _ in range(batches):
        entries = factory.make(size)
        start = time.perf_counter()
        with sm() as session:
            append(session, signer, entries)
        spent += time.perf_counter() - start
    return batches * size / spent


def _writer(url: str, instance: str, seed: int, batches: int, barrier: Any, out: Any) -> None:
    """One concurrent writer process: its own engine, batches of WRITER_BATCH."""
    engine = make_engine(url)
    sm = sessionmaker(engine, expire_on_commit=False)
    signer = _signer(Path(instance))
    factory = EntryFactory(items=5_000_000, seed=seed)
    work = [factory.make(WRITER_BATCH) for _ in range(batches)]
    with sm() as session:  # connect before the clock starts
        session.execute(text("SELECT 1"))
    barrier.wait()
    start = time.monotonic()
    done, errors = 0, []
    for entries in work:
        try:
            with sm() as session:
                append(session, signer, entries)
            done += len(entries)
        except Exception as exc:  # report, keep going: a failure is a finding
            errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")
    out.put((start, time.monotonic(), done, errors))
    engine.dispose()


def bench_concurrent(backend: Backend, instance: Path, batches: int) -> tuple[float, list[str]]:
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(WRITERS), ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(backend.url, str(instance), 1000 + i, batches,
                                                barrier, out)) for i in range(WRITERS)]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    start = min(r[0] for r in results)
    end = max(r[1] for r in results)
    done = sum(r[2] for r in results)
    errors = [e for r in results for e in r[3]]
    return done / (end - start), errors


def fill(sm: sessionmaker[Session], signer: LogSigner, factory: EntryFactory, target: int) -> float:
    with sm() as session:
        size = store.read_head(session).size
    start, added = time.perf_counter(), 0
    while size < target:
        n = min(FILL_BATCH, target - size)
        entries = factory.make(n)
        with sm() as session:
            append(session, signer, entries)
            if size // FILL_BATCH % 5 == 0:
                common.analyze(session.get_bind().engine)
        size += n
        added += n
        if sys.stdout.isatty():
            print(f"    filled {size:,}", end="\r", flush=True)
    if sys.stdout.isatty():
        print(" " * 40, end="\r")
    return added / (time.perf_counter() - start) if added else 0.0


def bench_proofs(sm: sessionmaker[Session], size: int, samples: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    times = []
    for _ in range(samples):
        index = rng.randrange(size)
        with sm() as session:
            start = time.perf_counter()
            path = store.inclusion_proof(session, index, size)
            times.append((time.perf_counter() - start) * 1000)
        assert path or size == 1
    return times


def bench_audit(sm: sessionmaker[Session], signer: LogSigner, workers: int | None = None) -> float:
    """Audit the whole log; ``workers`` None is the default of ``ledger.audit.audit`` (two
    processes from PARALLEL_MIN_SIZE entries on a machine with two cores)."""
    with sm() as session:
        start = time.perf_counter()
        report = ledger_audit.audit(session, signer.vkey, workers=workers)
        elapsed = time.perf_counter() - start
    return report.size / elapsed


# --------------------------------------------------------------------------- driver


@dataclass
class Plan:
    sizes: list[int]
    single: int
    batches: int
    writer_batches: int
    samples: int


def run_backend(backend: Backend, plan: Plan, results: Results, work: Path,
                profile: bool) -> None:
    print(f"\n== {backend.label} {backend.version()}", flush=True)
    # Phase A: write throughput, on a fresh database and a fresh signer (fork guard state).
    backend.fresh()
    instance = work / f"{backend.name}-a"
    engine = backend.engine()
    sm = sessionmaker(engine, expire_on_commit=False)
    signer = _signer(instance)
    factory = EntryFactory(items=1_000_000, seed=1)
    sample = factory.make(1)[0]
    from ledger.entry import make_entry

    size = len(make_entry(sample.kind, sample.time, sample.actor, sample.subject, b"\0" * 32,
                          sample.body))
    results.notes.append(f"entry size about {size} bytes (with a prev hash)")
    with sm() as session:  # create the head row; warm up
        append(session, signer, factory.make(10))
    rate = bench_single(sm, signer, factory, plan.single)
    results.add(backend, "single", "single append (1 entry/tx)", rate, "entries/s")
    with profiled(profile, f"{backend.label} batch append"):
        rate = bench_batches(sm, signer, factory, plan.batches, BATCH)
    results.add(backend, "batch", "batch append (1,000/tx)", rate, "entries/s")
    engine.dispose()
    rate, errors = bench_concurrent(backend, instance, plan.writer_batches)
    results.add(backend, "concurrent", f"{WRITERS} writer processes (100/tx)", rate, "entries/s",
                f"({len(errors)} failed tx)" if errors else "")
    for err in sorted(set(errors))[:5]:
        print(f"    writer error: {err}")
    engine = backend.engine()
    sm = sessionmaker(engine, expire_on_commit=False)
    bench_audit(sm, signer)  # the concurrent writers left a consistent log
    with sm() as session:
        written = store.read_head(session).size
    print(f"    (phase A log: {written:,} entries, audit OK)")
    engine.dispose()

    # Phase B: fill to each size, then proofs and audit.
    backend.fresh()
    engine = backend.engine()
    sm = sessionmaker(engine, expire_on_commit=False)
    signer = _signer(work / f"{backend.name}-b")
    for target in plan.sizes:
        factory = EntryFactory(items=max(target // 4, 1), seed=target)
        rate = fill(sm, signer, factory, target)
        results.add(backend, f"fill@{target}", f"fill to {target:,} (10,000/tx)", rate,
                    "entries/s")
        backend.settle()
        times = bench_proofs(sm, target, plan.samples, seed=target)
        label = f"{target:,}"
        results.add(backend, f"proof_p50@{target}", f"inclusion proof p50 @ {label}",
                    percentile(times, 50), "ms")
        results.add(backend, f"proof_p99@{target}", f"inclusion proof p99 @ {label}",
                    percentile(times, 99), "ms")
        with profiled(profile and target == plan.sizes[-1], f"{backend.label} audit @ {label}"):
            rate = bench_audit(sm, signer)
        results.add(backend, f"audit@{target}", f"audit @ {label}", rate, "entries/s")
        if target == max(plan.sizes):  # the same audit in one process, for comparison
            rate = bench_audit(sm, signer, workers=1)
            results.add(backend, f"audit1@{target}", f"audit @ {label}, one process", rate,
                        "entries/s")
    if profile:
        with profiled(True, f"{backend.label} inclusion proofs @ {plan.sizes[-1]:,}"):
            bench_proofs(sm, plan.sizes[-1], plan.samples, seed=7)
    engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    common.add_db_arguments(parser)
    parser.add_argument("--sizes", default="10000,100000,1000000",
                        help="log sizes for proof latency and audit (comma-separated)")
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile batch append, the last audit and proofs")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    tune_gc()  # as the service's processes are (wsgi.py, web/runtime.py)

    db, pg_url = common.choose_databases(args)
    if args.quick:
        plan = Plan(sizes=[2_000, 20_000], single=100, batches=5, writer_batches=5, samples=100)
        if args.sizes != parser.get_default("sizes"):
            plan.sizes = [int(s) for s in args.sizes.split(",")]
    else:
        plan = Plan(sizes=[int(s) for s in args.sizes.split(",")], single=1_000, batches=40,
                    writer_batches=40, samples=500)
    # Targets are stated for 1M; with other sizes judge the largest one.
    largest = max(plan.sizes)
    for key in ("proof_p99", "audit"):
        TARGETS[f"{key}@{largest}"] = TARGETS.pop(f"{key}@1000000")

    info = common.machine()
    common.print_banner("ledger", info)
    print(f"plan: {plan}")
    results = Results(TARGETS, widths=(34, 28, 22))
    work = Path(tempfile.mkdtemp(prefix="ledger-bench-"))
    try:
        common.run_backends(db, pg_url, info, lambda: SqliteBackend(work), PostgresBackend,
                            lambda backend: run_backend(backend, plan, results, work, args.profile))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    common.print_table(results.rows, results.notes, info)
    if args.json:
        common.write_figures(args.json, info, plan, results.raw, results.notes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
