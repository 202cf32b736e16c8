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
import cProfile
import io
import json
import multiprocessing as mp
import os
import pstats
import random
import shutil
import statistics
import sys
import tempfile
import time
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

from ledger import audit as ledger_audit  # noqa: E402
from ledger import store  # noqa: E402
from ledger.sequencer import NewEntry, append  # noqa: E402
from ledger.signer import LogSigner  # noqa: E402
from web.db import make_engine  # noqa: E402

ORIGIN = "bench.trace.local/log"
DEFAULT_PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
WRITERS = 8
WRITER_BATCH = 100
BATCH = 1_000
FILL_BATCH = 10_000

# name -> (comparison, threshold, unit, databases the target applies to)
TARGETS: dict[str, tuple[str, float, str, tuple[str, ...]]] = {
    "batch": (">=", 20_000, "entries/s", ("sqlite",)),
    "concurrent": (">=", 3_000, "entries/s", ("postgres",)),
    "proof_p99@1000000": ("<", 5.0, "ms", ("sqlite", "postgres")),
    "audit@1000000": (">=", 200_000, "entries/s", ("sqlite", "postgres")),
}


def metadata() -> Any:
    """Return the service's schema (web/models.py), or the ledger tables alone as a fallback."""
    try:
        from web.models import metadata as meta
    except Exception:  # another package mid-edit must not stop a ledger benchmark
        import ledger.models  # noqa: F401
        from ledger.base import Base

        meta = Base.metadata
    return meta


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


class Backend:
    """A fresh database per phase; ``url`` is what each engine connects to."""

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
        engine = make_engine(self.url)
        return engine


class SqliteBackend(Backend):
    name, label = "sqlite", "SQLite"

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._n = 0

    def fresh(self) -> None:
        self._n += 1
        self.url = f"sqlite:///{self._folder / f'bench{self._n}.db'}"
        engine = self.engine()
        metadata().create_all(engine)
        engine.dispose()

    def close(self) -> None:
        pass

    def settle(self) -> None:
        """Fold the WAL back into the database file after a big fill."""
        engine = self.engine()
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        engine.dispose()

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
        self._db = f"bench_ledger_{os.getpid()}"

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
        """VACUUM ANALYZE the ledger tables (what autovacuum does anyway after a big fill),
        so that proof latency is not measured while autovacuum scans a million new rows."""
        engine = create_engine(self.url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            for table in metadata().sorted_tables:
                if table.name.startswith("ledger_"):
                    conn.execute(text(f'VACUUM (ANALYZE) "{table.name}"'))
        engine.dispose()

    def close(self) -> None:
        self._drop()
        self._admin.dispose()

    def version(self) -> str:
        with self._admin.connect() as conn:
            return str(conn.execute(text("SHOW server_version")).scalar())


# --------------------------------------------------------------------------- measurements


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
        print(f"  {label:<34} {backend.label:<10} {self.rows[-1][2]:<28} "
              f"target {target:<22} met {met:<4} load {_load()}", flush=True)


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


@contextmanager
def profiled(enabled: bool, title: str, top: int = 18) -> Iterator[None]:
    if not enabled:
        yield
        return
    prof = cProfile.Profile()
    prof.enable()
    try:
        yield
    finally:
        prof.disable()
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
        print(f"\n---- cProfile: {title} (sorted by own time) ----")
        print("\n".join(out.getvalue().splitlines()[:top + 12]), flush=True)


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


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


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
    parser.add_argument("--sizes", default="10000,100000,1000000",
                        help="log sizes for proof latency and audit (comma-separated)")
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile batch append, the last audit and proofs")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)

    env_url = os.environ.get("DATABASE_URL", "")
    pg_url = args.pg_url or (env_url if env_url.startswith("postgres") else None)
    db = args.db or ("both" if pg_url else "sqlite")
    if db in ("postgres", "both") and not pg_url:
        pg_url = DEFAULT_PG_ADMIN
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

    info = machine()
    print(f"ledger bench {info['date']}: {info['nproc']} cores ({info['cpu']}), {info['ram']}, "
          f"Python {info['python']}; load avg {_load()}")
    print(f"plan: {plan}")
    results = Results()
    work = Path(tempfile.mkdtemp(prefix="ledger-bench-"))
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
