"""Helpers the benchmark scripts share.

Not a benchmark.  The scripts are run as ``python bench/<name>_bench.py``, which puts
``bench/`` on ``sys.path``, and import these as ``from common import ...``.

- the machine: ``load_avg``, ``machine``, ``print_banner``;
- the figures: ``Results`` (rows next to their targets), ``print_table``, ``percentile``,
  ``profiled``, ``progress``;
- the figures as JSON: ``write_figures``;
- databases of their own: ``service_metadata``, ``Backend`` with ``SqliteBackend`` and
  ``PostgresBackend``, ``own_database`` (CREATE DATABASE on an admin URL, DROP DATABASE ...
  WITH (FORCE) at the end), the ``--db``/``--pg-url`` options (``add_db_arguments``,
  ``choose_databases``) and ``run_backends``;
- ``free_port``, ``gs1_check_digit``.

SQLAlchemy and the project's packages are imported only inside the database helpers, so a
script that does not use them (labels_bench.py, web_bench.py) does not load them.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib
import io
import json
import os
import pstats
import socket
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Engine, MetaData

DEFAULT_PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

# name -> (comparison, threshold, unit, databases the target applies to)
Targets = dict[str, tuple[str, float, str, tuple[str, ...]]]


# --------------------------------------------------------------------------- the machine


def load_avg() -> str:
    """The load average over 1, 5 and 15 minutes, as ``1.2/0.8/0.5``."""
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def machine(**extra: str) -> dict[str, str]:
    """Cores, CPU model, RAM, Python version, ``extra`` and the date ("?" where unknown)."""
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
            "python": sys.version.split()[0], **extra,
            "date": time.strftime("%Y-%m-%d %H:%M %Z")}


def print_banner(name: str, info: Mapping[str, str], also: Sequence[str] = ()) -> None:
    """The first line of a run: ``<name> bench <date>: <machine>[, <also>...]; load avg ...``."""
    print(f"{name} bench {info['date']}: {info['nproc']} cores ({info['cpu']}), {info['ram']}, "
          f"Python {info['python']}" + "".join(f", {a}" for a in also)
          + f"; load avg {load_avg()}")


# --------------------------------------------------------------------------- figures


@dataclass
class Results:
    """Figures next to their targets: each ``add`` prints a line and keeps a table row.

    ``widths`` are the widths of the label, value and target columns of the printed line.
    """

    targets: Targets
    widths: tuple[int, int, int]
    rows: list[tuple[str, str, str, str, str, str]] = field(default_factory=list)
    raw: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, backend: Backend, key: str, label: str, value: float, unit: str,
            extra: str = "") -> None:
        self.raw.setdefault(backend.name, {})[key] = value
        target, met = "-", "-"
        if key in self.targets:
            op, threshold, _, dbs = self.targets[key]
            target = f"{op} {threshold:,.0f} {unit}" if unit != "ms" else f"{op} {threshold:g} ms"
            if backend.name in dbs:
                ok = value >= threshold if op == ">=" else value < threshold
                met = "yes" if ok else "NO"
            else:
                target = f"({target})"
        shown = (f"{value:,.2f} ms" if unit == "ms" else f"{value:,.1f} s" if unit == "s"
                 else f"{value:,.0f} {unit}")
        self.rows.append((label, backend.label, shown + (f" {extra}" if extra else ""),
                          target, met, load_avg()))
        w_label, w_value, w_target = self.widths
        print(f"  {label:<{w_label}} {backend.label:<10} {self.rows[-1][2]:<{w_value}} "
              f"target {target:<{w_target}} met {met:<4} load {load_avg()}", flush=True)


def print_table(rows: Sequence[Sequence[str]], notes: Sequence[str], info: Mapping[str, str],
                also: Sequence[str] = (), intro: Sequence[str] = (),
                sort_notes: bool = True) -> None:
    """Print the machine line, ``intro`` lines, the rows as a Markdown table and the notes
    (sorted and deduplicated, or deduplicated in the order they were made)."""
    head = ("figure", "database", "value", "target", "met", "load 1/5/15")
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"

    print(f"\nMachine: {info['nproc']} cores, {info['cpu']}, {info['ram']}, "
          f"Python {info['python']}, " + "".join(f"{a}, " for a in also)
          + ", ".join(f"{k.split('_')[0]} {v}" for k, v in info.items() if k.endswith("_version"))
          + f"; {info['date']}")
    for text in intro:
        print(text)
    print(line(head))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))
    for note in (sorted(set(notes)) if sort_notes else dict.fromkeys(notes)):
        print(f"note: {note}")


def write_figures(path: Path, info: Mapping[str, str], plan: Any, figures: Any,
                  notes: Sequence[str], ensure_ascii: bool = True) -> None:
    """Write machine, plan (a dataclass), figures and notes to ``path`` as JSON."""
    path.write_text(json.dumps({"machine": info, "plan": plan.__dict__, "figures": figures,
                                "notes": notes}, indent=2, ensure_ascii=ensure_ascii))


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


@contextmanager
def profiled(enabled: bool, title: str, top: int,
             orders: Sequence[tuple[str, str]] = (("tottime", "own time"),)) -> Iterator[None]:
    """cProfile the block when ``enabled``; print the ``top`` functions for each
    (sort key, what the heading calls it) of ``orders``."""
    if not enabled:
        yield
        return
    prof = cProfile.Profile()
    prof.enable()
    try:
        yield
    finally:
        prof.disable()
        for order, heading in orders:
            out = io.StringIO()
            pstats.Stats(prof, stream=out).sort_stats(order).print_stats(top)
            print(f"\n---- cProfile: {title} (sorted by {heading}) ----")
            print("\n".join(out.getvalue().splitlines()[:top + 12]), flush=True)


def progress(message: str) -> None:
    print(f"    {time.strftime('%H:%M:%S')} {message}", flush=True)


# --------------------------------------------------------------------------- databases


def add_db_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``--db`` and ``--pg-url`` options (see ``choose_databases``)."""
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default=None,
                        help="default: sqlite, plus postgres when DATABASE_URL or --pg-url is set")
    parser.add_argument("--pg-url", default=None,
                        help="PostgreSQL server to create the bench database on "
                             f"(default: $DATABASE_URL if PostgreSQL, else {DEFAULT_PG_ADMIN})")


def choose_databases(args: argparse.Namespace) -> tuple[str, str | None]:
    """Return ``--db`` (default: sqlite, plus postgres when DATABASE_URL is a PostgreSQL URL
    or --pg-url is given) and the PostgreSQL admin URL when PostgreSQL is wanted."""
    env_url = os.environ.get("DATABASE_URL", "")
    pg_url = args.pg_url or (env_url if env_url.startswith("postgres") else None)
    db = args.db or ("both" if pg_url else "sqlite")
    if db in ("postgres", "both") and not pg_url:
        pg_url = DEFAULT_PG_ADMIN
    return db, pg_url


def run_backends(db: str, pg_url: str | None, info: dict[str, str],
                 sqlite: Callable[[], Backend], postgres: Callable[[str], Backend],
                 run: Callable[[Backend], None]) -> None:
    """``run`` each backend ``db`` names (``sqlite()``, then ``postgres(pg_url)``), its version
    noted in ``info`` as ``<name>_version``; close them all at the end, even after an error
    (PostgreSQL: the benchmark's database dropped)."""
    backends: list[Backend] = []
    try:
        if db in ("sqlite", "both"):
            backends.append(sqlite())
        if db in ("postgres", "both"):
            assert pg_url is not None
            backends.append(postgres(pg_url))
        for backend in backends:
            info[f"{backend.name}_version"] = backend.version()
            run(backend)
    finally:
        for backend in backends:
            backend.close()


def admin_engine(admin_url: str) -> Engine:
    from sqlalchemy import create_engine

    return create_engine(admin_url, isolation_level="AUTOCOMMIT")


def _execute(engine: Engine, statement: str) -> None:
    from sqlalchemy import text

    with engine.connect() as conn:
        conn.execute(text(statement))


def analyze(engine: Engine) -> None:
    """ANALYZE a PostgreSQL database while a fill grows it (nothing on SQLite).

    What autovacuum would do; it is off on these machines' server, and without
    statistics the planner keeps the plans of empty tables as they grow (a fill to
    300,000 entries fell from 20,000 to 900 entries/s).
    """
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")


def create_database(admin: Engine, name: str) -> None:
    _execute(admin, f'CREATE DATABASE "{name}"')


def drop_database(admin: Engine, name: str) -> None:
    _execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_url(admin_url: str, name: str) -> str:
    """``admin_url`` with database ``name`` instead (password kept)."""
    from sqlalchemy import make_url

    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


@contextmanager
def own_database(admin_url: str, name: str) -> Iterator[str]:
    """Create database ``name`` on the server of ``admin_url``, yield its URL and drop it at
    the end, even after an error."""
    admin = admin_engine(admin_url)
    create_database(admin, name)
    admin.dispose()
    try:
        yield database_url(admin_url, name)
    finally:
        drop_database(admin, name)
        admin.dispose()


def service_metadata(*fallback: str) -> MetaData:
    """Return the service's schema (web/models.py), or, when that does not import (another
    package mid-edit must not stop a benchmark), the tables of the ``fallback`` model modules
    alone."""
    try:
        from web.models import metadata as meta
    except Exception:
        for module in fallback:
            importlib.import_module(module)
        from ledger.base import Base

        meta = Base.metadata
    return meta


class Backend:
    """A database of the benchmark's own; ``url`` is what each engine connects to.

    ``metadata`` returns the schema ``fresh`` creates.
    """

    name = ""
    label = ""
    url = ""

    def __init__(self, metadata: Callable[[], MetaData]) -> None:
        self.metadata = metadata

    def fresh(self) -> None:
        raise NotImplementedError

    def settle(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def version(self) -> str:
        raise NotImplementedError

    def size(self) -> int:
        raise NotImplementedError

    def engine(self) -> Engine:
        from web.db import make_engine

        return make_engine(self.url)

    def create_schema(self) -> None:
        engine = self.engine()
        self.metadata().create_all(engine)
        engine.dispose()


class SqliteBackend(Backend):
    """SQLite; subclasses choose the file (``fresh`` sets ``url``, then ``create_schema``)."""

    name, label = "sqlite", "SQLite"

    def settle(self) -> None:
        """Fold the WAL back into the database file after a big fill."""
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
    """A database ``database`` created on the server of ``admin_url`` by each ``fresh`` (an
    older one of that name dropped first) and dropped by ``close``; subclasses choose what
    ``settle`` vacuums."""

    name, label = "postgres", "PostgreSQL"

    def __init__(self, admin_url: str, database: str,
                 metadata: Callable[[], MetaData]) -> None:
        super().__init__(metadata)
        if admin_url.startswith("postgresql://") or admin_url.startswith("postgres://"):
            admin_url = "postgresql+psycopg://" + admin_url.split("://", 1)[1]
        self.admin = admin_engine(admin_url)
        self.admin_url = admin_url
        self.database = database

    def fresh(self) -> None:
        drop_database(self.admin, self.database)
        create_database(self.admin, self.database)
        self.url = database_url(self.admin_url, self.database)
        self.create_schema()

    def vacuum(self, tables: Sequence[str]) -> None:
        """VACUUM (ANALYZE) ``tables`` (what autovacuum does anyway after a big fill)."""
        from sqlalchemy import text

        engine = admin_engine(self.url)
        with engine.connect() as conn:
            for table in tables:
                conn.execute(text(f'VACUUM (ANALYZE) "{table}"'))
        engine.dispose()

    def close(self) -> None:
        drop_database(self.admin, self.database)
        self.admin.dispose()

    def version(self) -> str:
        from sqlalchemy import text

        with self.admin.connect() as conn:
            return str(conn.execute(text("SHOW server_version")).scalar())


# --------------------------------------------------------------------------- other


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def gs1_check_digit(body: str) -> str:
    """GS1 mod-10 check digit of ``body`` (weights 3,1,3,... from the right)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)
