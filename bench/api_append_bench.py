"""Single-request ledger appends through the HTTP API, under gunicorn on this machine.

Each request is one ``POST /api/v1/serials`` with one new serial: one authenticated
request, one rule check, one ledger entry (its own write transaction, tiles, chain
head and signed checkpoint), one projection row.  Prints appends/s and latency.

    python bench/api_append_bench.py                    # SQLite, 3,000 requests
    python bench/api_append_bench.py --pg-url postgresql+psycopg://postgres@127.0.0.1/test

gunicorn runs as ``docs/deployment.md`` says: ``gthread`` workers (2 by default) with
``--worker-connections`` equal to ``--threads``, so that each worker holds as many
clients as it has threads and the others wait for a free worker (keep-alive
connections would otherwise stay with whichever worker accepted them first).  The
figure depends on concurrency: concurrent requests of a worker share one group commit.

Traffic goes to 127.0.0.1 only; the request count and the time are bounded.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import free_port, own_database

ROOT = Path(__file__).resolve().parent.parent
TARGET = 500.0  # appends/s (issue: single-request appends through the HTTP API)


def _prepare(env: dict[str, str]) -> str:
    """Migrate, load the demo world and return the producer's token."""
    flask = [str(Path(sys.executable).parent / "flask"), "--app", "wsgi"]
    subprocess.run(flask + ["db", "upgrade"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    out = subprocess.run(flask + ["demo", "load"], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True).stdout
    return next(line.split()[1] for line in out.splitlines() if line.startswith("producer "))


def _client(port: int, token: str, jobs: list[str], latencies: list[float],
            errors: list[str], deadline: float) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    while jobs and time.monotonic() < deadline:
        try:
            serial = jobs.pop()
        except IndexError:
            return
        body = json.dumps({"gtin": "06901234567892", "lot": "SN2026A", "serials": [serial]})
        start = time.perf_counter()
        conn.request("POST", "/api/v1/serials", body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        latencies.append(time.perf_counter() - start)
        if response.status != 201:
            errors.append(f"{response.status}")


def run(db_url: str | None, requests: int, clients: int, workers: int,
        threads: int) -> dict[str, float]:
    """Serve the app with gunicorn and append ``requests`` entries over HTTP."""
    if db_url is not None:
        with own_database(db_url, f"bench_append_{secrets.token_hex(4)}") as own:
            return _run(own, requests, clients, workers, threads)
    return _run(None, requests, clients, workers, threads)


def _run(db_url: str | None, requests: int, clients: int, workers: int,
         threads: int) -> dict[str, float]:
    folder = Path(tempfile.mkdtemp(prefix="append-bench-"))
    env = dict(os.environ, INSTANCE_PATH=str(folder / "instance"), LOG_LEVEL="WARNING",
               RATELIMIT_ENABLED="false")
    env["DATABASE_URL"] = db_url or f"sqlite:///{folder / 'bench.db'}"
    token = _prepare(env)
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "--workers", str(workers),
         "--worker-class", "gthread", "--threads", str(threads), "--worker-connections", str(threads),
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "wsgi:app"],
        cwd=ROOT, env=env)
    try:
        for _ in range(100):
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/healthz")
                break
            except OSError:
                time.sleep(0.1)
        jobs = [f"B{secrets.token_hex(4)}{i:07d}" for i in range(requests)]
        latencies: list[float] = []
        errors: list[str] = []
        deadline = time.monotonic() + 300
        threads = [threading.Thread(target=_client, args=(port, token, jobs, latencies, errors,
                                                          deadline)) for _ in range(clients)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - start
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)
    latencies.sort()
    return {"requests": len(latencies), "errors": len(errors), "rate": len(latencies) / elapsed,
            "p50": statistics.median(latencies) * 1000,
            "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg-url", default=None,
                        help="PostgreSQL URL; a database of our own is created there and dropped")
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default=None,
                        help="default: SQLite, plus PostgreSQL when --pg-url is given")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=32,
                        help="concurrent clients, each with its own connection")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=16,
                        help="gthread threads per worker (requests a worker's group commit can join)")
    args = parser.parse_args(argv)
    db = args.db or ("both" if args.pg_url else "sqlite")
    if db != "sqlite" and not args.pg_url:
        parser.error("--db postgres needs --pg-url")
    targets = ([("SQLite", None)] if db != "postgres" else []) + \
        ([("PostgreSQL", args.pg_url)] if db != "sqlite" else [])
    print(f"{'database':<11} {'requests':>8} {'errors':>6} {'appends/s':>10} {'p50 ms':>7} "
          f"{'p99 ms':>7}  target >= {TARGET:.0f}/s")
    for name, url in targets:
        r = run(url, args.requests, args.clients, args.workers, args.threads)
        met = "met" if r["rate"] >= TARGET and not r["errors"] else "NOT met"
        print(f"{name:<11} {r['requests']:>8.0f} {r['errors']:>6.0f} {r['rate']:>10.0f} "
              f"{r['p50']:>7.1f} {r['p99']:>7.1f}  {met}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
