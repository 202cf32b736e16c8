#!/usr/bin/env python3
"""Web benchmark: the consumer scan page and ``POST /api/v1/eligibility`` under gunicorn.

Not a test: it prints figures next to their targets.  Run from the checkout::

    python bench/web_bench.py                          # build (or reuse) the database, then load it
    python bench/web_bench.py --workdir /tmp/wb        # reuse the database built there before
    python bench/web_bench.py --profile-only           # cProfile of scan requests, in process
    python bench/web_bench.py --quick                  # 100k events, short runs (a smoke run)
    createdb -h 127.0.0.1 -U postgres wb_pg && python bench/web_bench.py --workdir /tmp/wbpg \
        --database-url postgresql+psycopg://postgres@127.0.0.1/wb_pg   # on PostgreSQL

Database (SQLite, WAL, the service's own engine settings), built once into ``--workdir``
through the real services: ``flask demo load`` (the demo world: producer, platform, shop,
logistics, six signed labels with their stories), four more products of the demo producer,
batches of 10,000 items each serialised with ``trace.services.serialise_items`` (one write
transaction per batch) until the log holds ``--events`` entries, and ``--sold`` items walked
through listing, sale, payment, shipment, delivery and signing (``record_event``, 200 events
per transaction).  Labels are signed with the demo producer's label key, as a print run would.

Load (wrk, 32 connections unless ``--connections``), against gunicorn started by this script
on 127.0.0.1 from the checkout (``wsgi:app``), for each ``--servers`` configuration:

- scan page: ``GET /01/<gtin>/10/<lot>/21/<serial>?17=..&k=..&s=..``, a fixed mix over a hot
  set of ``--labels`` distinct labels (400): 55 % sold items (journeys of 8 events), 35 %
  items in stock, 5 % the six demo labels and 5 % counterfeits (a changed signature: the
  verdict page for a fake).  Every request is a new scan (it is counted).  Each request
  carries a random ``X-Forwarded-For`` (the server trusts one proxy hop) so that the
  per-address rate limit (120 scans/min) is exercised but not hit.  The figures are those
  of warm caches: a label's first scan in a worker (a cache miss) costs what the
  ``--profile`` line "first pass" shows.
- eligibility: ``POST /api/v1/eligibility`` with the platform's bearer token, bodies for the
  demo product (eligible), a product without inspection (not eligible, with reasons) and one
  without a lot.
- healthz (``--endpoints healthz``): ``GET /healthz``, what the same server and machine give
  a trivial endpoint at the same time (a yardstick for the load others put on the machine).

Each run starts a fresh server, warms it up (every label of the hot set requested several
times, then rounds of ``--warmup`` seconds of the same load until the rate settles), then
measures ``--duration`` seconds.  Server CPU per request is the gunicorn processes' user +
system time over the measured run divided by its requests (it does not depend on how busy
the machine is, the rate does).  The machine has
2 cores that the server, wrk and other people's work share: the load average is printed.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Sequence
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from common import analyze, free_port, gs1_check_digit, machine, progress

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ORIGIN = "bench.web.local/log"
BASE = "http://127.0.0.1"
TARGET_RPS, TARGET_P99_MS = 1000.0, 100.0
FILL_BATCH = 10_000
EVENTS_PER_TX = 200
GTIN_REFS = (101, 102, 103, 104)  # item references of the extra products (prefix 6901234)
AT = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)


def gtin14(ref: int) -> str:
    body = f"06901234{ref:05d}"
    return body + gs1_check_digit(body)


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


# --------------------------------------------------------------------------- the database


# --database-url: a database the caller made for this workdir (PostgreSQL); default SQLite.
DATABASE_URL: str | None = None


def database_url(workdir: Path) -> str:
    return DATABASE_URL or f"sqlite:///{workdir / 'trace.db'}"


def app_config(workdir: Path, testing: bool = False) -> dict[str, Any]:
    return {"INSTANCE_PATH": str(workdir / "instance"),
            "DATABASE_URL": database_url(workdir),
            "LEDGER_ORIGIN": ORIGIN, "PUBLIC_BASE_URL": BASE, "LOG_LEVEL": "WARNING",
            "TESTING": testing}


def server_env(workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"INSTANCE_PATH": str(workdir / "instance"),
                "DATABASE_URL": database_url(workdir),
                "LEDGER_ORIGIN": ORIGIN, "PUBLIC_BASE_URL": BASE, "LOG_LEVEL": "WARNING",
                "TRUST_PROXY_HOPS": "1"})
    return env


def _demo_load(app: Any) -> tuple[list[str], dict[str, str]]:
    output = app.test_cli_runner().invoke(args=["demo", "load", "--base-url", BASE]).output
    paths = [line.removeprefix(BASE) for line in output.splitlines()
             if line.startswith(BASE + "/01/")]
    tokens = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in ("admin", "producer", "platform", "merchant",
                                            "inspector"):
            tokens[parts[0]] = parts[1]
    if len(paths) != 6 or "platform" not in tokens:
        raise RuntimeError(f"demo load printed no labels or tokens:\n{output}")
    return paths, tokens


def build(workdir: Path, events: int, sold: int, sample: int) -> dict[str, Any]:
    """Build the database in ``workdir`` (or reuse it) and return the request mix."""
    from sqlalchemy import func, select

    from credit import services as credit
    from labels.signing import sign_label
    from ledger.actor import Actor
    from ledger.sequencer import write_transaction
    from ledger.store import read_head
    from trace import label_keys, queries, services
    from trace.events import commit
    from trace.models import ITEMS
    from web import create_app
    from web.demo import DEMO_USCC, GTIN, LOT
    from web.models import metadata

    workdir.mkdir(parents=True, exist_ok=True)
    app = create_app(app_config(workdir))
    engine = app.extensions["engine"]
    metadata.create_all(engine)
    signer = app.extensions["ledger_signer"]
    sm = app.extensions["sessionmaker"]
    with app.app_context():
        demo_paths, tokens = _demo_load(app)
    with sm() as session:
        ids = {role: credit.find_by_uscc(session, DEMO_USCC[key]).id
               for role, key in (("producer", "producer"), ("platform", "platform"),
                                 ("merchant", "merchant"), ("logistics", "logistics"),
                                 ("inspector", "inspection"))}
        from credit.models import Subject
        ids["courier"] = session.scalars(
            select(Subject.id).where(Subject.kind == "courier")).first()
    producer = Actor(ids["producer"], "producer")
    gtins = [gtin14(ref) for ref in GTIN_REFS]

    def tx():  # type: ignore[no-untyped-def]
        session = sm()
        return session, write_transaction(session, signer)

    with sm() as session:
        size = read_head(session).size
        have_products = queries.find_product(session, gtins[0]) is not None
    if not have_products:
        session, t = tx()
        with session, t as w:
            for n, gtin in enumerate(gtins):
                services.register_product(w, producer, gtin=gtin, name=f"遂宁矿泉水 {n + 1} 号",
                                          name_en=f"Suining water no. {n + 1}", category="food",
                                          at=AT)
    # Fill: one batch of up to FILL_BATCH items per write transaction.
    started, lot_no = time.perf_counter(), 0
    with sm() as session:
        lot_no = session.scalar(select(func.count()).select_from(ITEMS)
                                .where(ITEMS.c.gtin.in_(gtins))) // FILL_BATCH
        size = read_head(session).size
    last = time.perf_counter()
    while size < events - 1:
        n = min(FILL_BATCH, events - size - 1)
        gtin, lot = gtins[lot_no % len(gtins)], f"W{lot_no:04d}"
        session, t = tx()
        with session, t as w:
            services.create_batch(w, producer, gtin=gtin, lot=lot, production_date="2026-11-01",
                                  expiry_date="2028-11-01", place="6901234000009", at=AT)
            services.serialise_items(w, producer, gtin=gtin, lot=lot,
                                     serials=[f"{lot_no:04d}{i:06d}" for i in range(n)], at=AT)
            size = w.size
        lot_no += 1
        if lot_no % 5 == 1:
            analyze(engine)
        if time.perf_counter() - last > 20:
            last = time.perf_counter()
            progress(f"filled to {size:,} entries "
                     f"({size / (last - started):,.0f} entries/s this run)")
    # Sold items: inspection of their batches, then six lifecycle events each.
    with sm() as session:
        lifecycle_done = session.scalar(select(func.count()).select_from(ITEMS)
                                        .where(ITEMS.c.gtin.in_(gtins),
                                               ITEMS.c.state == "signed")) or 0
        lots = list(session.execute(select(ITEMS.c.gtin, ITEMS.c.lot).where(ITEMS.c.gtin.in_(gtins))
                                    .group_by(ITEMS.c.gtin, ITEMS.c.lot)
                                    .order_by(ITEMS.c.lot).limit(4)))
    rng = random.Random(20261128)
    sold_keys: list[tuple[str, str, str]] = []
    for gtin, lot in lots:
        with sm() as session:
            serials = list(session.scalars(select(ITEMS.c.serial)
                                           .where(ITEMS.c.gtin == gtin, ITEMS.c.lot == lot)
                                           .order_by(ITEMS.c.serial).limit(sold // len(lots))))
        sold_keys += [(gtin, lot, s) for s in serials]
    if lifecycle_done < len(sold_keys) // 2:
        merchant, platform = Actor(ids["merchant"], "merchant"), Actor(ids["platform"], "platform")
        logistics, courier = Actor(ids["logistics"], "logistics"), Actor(ids["courier"], "courier")
        session, t = tx()
        with session, t as w:
            for gtin, lot in lots:
                services.record_event(w, Actor(ids["inspector"], "inspector"), "inspection", {
                    "gtin": gtin, "lot": lot, "result": "pass", "report_no": f"SNJC-{lot}",
                    "inspecting_body": "遂宁市食品检验检测中心"}, at=AT)
        calls: list[tuple[Actor, str, dict[str, Any]]] = []
        for n, (gtin, lot, serial) in enumerate(sold_keys):
            item = {"gtin": gtin, "lot": lot, "serial": serial}
            order = f"WB{n:08d}"
            buyer, _ = commit(f"buyer-{order}", f"{rng.getrandbits(128):032x}")
            signer_c, _ = commit(f"receiver-{order}", f"{rng.getrandbits(128):032x}")
            calls += [
                (merchant, "listing", item | {"platform": ids["platform"],
                                              "shop_id": ids["merchant"],
                                              "listing_id": f"SKU-{serial}"}),
                (merchant, "sale", item | {"order_id": order, "buyer_commitment": buyer,
                                           "price_cents": 350, "currency": "CNY"}),
                (platform, "payment", item | {"institution": "网联清算", "reference": f"PAY-{order}",
                                              "amount_cents": 350, "currency": "CNY"}),
                (logistics, "shipment", item | {"waybill": f"SD{order}", "carrier": "遂宁顺达物流",
                                                "weight_g": 600, "place": "遂宁"}),
                (courier, "delivery_scan", item | {"place": rng.choice(["青岛", "成都", "北京"])}),
                (courier, "signing", item | {"signer_commitment": signer_c, "place": "青岛"}),
            ]
        for i in range(0, len(calls), EVENTS_PER_TX):
            session, t = tx()
            with session, t as w:
                for actor, kind, body in calls[i:i + EVENTS_PER_TX]:
                    services.record_event(w, actor, kind, body, at=AT)
        progress(f"{len(sold_keys):,} items sold and signed for ({len(calls):,} events)")
    # Sign labels, as a print run would.
    with sm() as session:
        key = label_keys.signing_key(session, ids["producer"], app.config["MASTER_KEY"])
        stock_keys = [tuple(r) for r in session.execute(
            select(ITEMS.c.gtin, ITEMS.c.lot, ITEMS.c.serial)
            .where(ITEMS.c.gtin.in_(gtins), ITEMS.c.state != "signed")
            .order_by(func.random()).limit(sample))]
        size = read_head(session).size
    expiry = date(2028, 11, 1)

    def label(key_: tuple[str, str, str]) -> str:
        return sign_label(*key_, key, expiry=expiry).uri(BASE).removeprefix(BASE)

    sold_paths = [label(k) for k in rng.sample(sold_keys, min(sample, len(sold_keys)))]
    stock_paths = [label(k) for k in stock_keys]
    fakes = []
    for path in rng.sample(stock_paths, max(1, sample // 10)):
        head, sig = path.rsplit("&s=", 1)
        fakes.append(f"{head}&s={'A' if sig[0] != 'A' else 'B'}{sig[1:]}")
    engine.dispose()
    return {
        "events": size, "demo": demo_paths, "sold": sold_paths, "stock": stock_paths,
        "fakes": fakes, "tokens": tokens,
        "eligibility": [
            {"merchant": ids["merchant"], "gtin": GTIN, "lot": LOT},
            {"merchant": ids["merchant"], "gtin": gtins[1], "lot": "W0009"},  # not inspected
            {"merchant": ids["merchant"], "gtin": GTIN},
        ],
    }


def scan_mix(world: dict[str, Any], count: int = 2000, labels: int = 400) -> list[str]:
    """Return ``count`` scan paths over ``labels`` distinct labels, in the proportions of the
    module docstring (the demo's six labels always take part)."""
    rng = random.Random(7)
    parts = ((world["sold"], 0.55), (world["stock"], 0.35), (world["demo"], 0.05),
             (world["fakes"], 0.05))
    mix: list[str] = []
    for paths, share in parts:
        hot = paths if paths is world["demo"] else paths[:max(1, int(labels * share))]
        mix += [rng.choice(hot) for _ in range(int(count * share))]
    rng.shuffle(mix)
    return mix


# --------------------------------------------------------------------------- profile in process


def profile(workdir: Path, world: dict[str, Any], requests: int, top: int) -> dict[str, float]:
    """Time scan requests through the test client (warm), then cProfile them."""
    from web import create_app

    app = create_app(app_config(workdir) | {"RATELIMIT_ENABLED": False})
    client = app.test_client()
    mix = scan_mix(world, 500, labels=500)

    def run(n: int) -> float:
        started = time.process_time()  # CPU time of this process (the machine is shared)
        for i in range(n):
            address = f"10.0.{i // 250 % 250}.{i % 250 + 1}"
            response = client.get(mix[i % len(mix)], environ_base={"REMOTE_ADDR": address})
            assert response.status_code == 200, response.status_code
        return (time.process_time() - started) / n * 1000

    cold = run(len(mix))  # first pass: every label once
    warm = min(run(requests) for _ in range(3))
    profiler = cProfile.Profile()
    profiler.enable()
    run(requests)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    print(out.getvalue())
    flush = getattr(__import__("trace.scans", fromlist=["flush"]), "flush", None)
    if flush is not None:
        with app.app_context():
            flush()
    app.extensions["engine"].dispose()
    print(f"  scan request in process (CPU time): first pass over {len(mix)} requests "
          f"({len(set(mix))} labels) {cold:.2f} ms/request; warm {warm:.2f} ms/request "
          f"({1000 / warm:,.0f} requests/s per core)")
    return {"cold_ms": cold, "warm_ms": warm}


# --------------------------------------------------------------------------- load


_WRK_SCRIPT = r"""
local paths = {}
local bodies = {}
local method = "%(method)s"
local token = "%(token)s"
for line in io.lines("%(file)s") do
  if method == "GET" then paths[#paths + 1] = line else bodies[#bodies + 1] = line end
end
local counter = 0
math.randomseed(os.time() + math.floor(os.clock() * 1000000))
request = function()
  counter = counter + 1
  local ip = "10." .. math.random(0, 255) .. "." .. math.random(0, 255) .. "."
             .. math.random(1, 254)
  if method == "PING" then
    return wrk.format("GET", "/healthz", {["X-Forwarded-For"] = ip})
  end
  if method == "GET" then
    return wrk.format("GET", paths[math.random(#paths)], {["X-Forwarded-For"] = ip})
  end
  return wrk.format("POST", "/api/v1/eligibility",
                    {["X-Forwarded-For"] = ip, ["Content-Type"] = "application/json",
                     ["Authorization"] = "Bearer " .. token}, bodies[math.random(#bodies)])
end
"""


def start_server(workdir: Path, kind: str, workers: int,
                 threads: int) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    cmd = [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--worker-class", kind,
           "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "--backlog", "2048",
           "--graceful-timeout", "10"]
    if kind == "gthread":  # as docs/deployment.md: a worker holds as many clients as threads
        cmd += ["--threads", str(threads), "--worker-connections", str(threads)]
    cmd.append("wsgi:app")
    log = open(workdir / "gunicorn.log", "ab")
    server = subprocess.Popen(cmd, cwd=ROOT, env=server_env(workdir), stdout=log, stderr=log)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                if r.status == 200:
                    return server, port
        except OSError:
            time.sleep(0.3)
        if server.poll() is not None:
            break
    stop_server(server)
    raise RuntimeError(f"gunicorn did not start: see {workdir / 'gunicorn.log'}")


def stop_server(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)  # graceful: workers flush their scan buffers at exit
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def server_cpu(server: subprocess.Popen[bytes]) -> float:
    """Return the CPU seconds (user + system) used so far by gunicorn's master and workers."""
    ticks = os.sysconf("SC_CLK_TCK")
    pids = [server.pid]
    try:
        children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk(port: int, script: Path, seconds: int, connections: int, threads: int) -> dict[str, float]:
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s",
           "--latency", "-s", str(script), f"http://127.0.0.1:{port}"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    pct = {int(p): _ms(v) for p, v in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.M)}
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return {"rps": rps, "p50": pct.get(50, float("nan")), "p99": pct.get(99, float("nan")),
            "requests": total, "non2xx": int(bad.group(1)) if bad else 0,
            "socket_errors": sum(map(int, errors.groups())) if errors else 0}


def _get(port: int, path: str, n: int) -> int:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        address = f"10.9.{n // 250 % 250}.{n % 250 + 1}"
        conn.request("GET", path, headers={"X-Forwarded-For": address})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def warm_up(port: int, script: Path, seconds: int, connections: int, threads: int,
            paths: Sequence[str] = (), workers: int = 1) -> int:
    """Fill every worker's caches, then load the server in rounds of ``seconds`` until the
    rate settles; return how many requests the warm-up made.

    Each distinct path is first requested ``3 * workers + 2`` times on fresh connections
    (a worker that accepts one serves it: with two workers a label is missed by one of them
    with a chance of 2**-8).
    """
    from concurrent.futures import ThreadPoolExecutor

    total = 0
    if paths:
        distinct = sorted(set(paths)) * (3 * workers + 2)
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda a: _get(port, a[1], a[0]), enumerate(distinct)))
        total += len(statuses)
        progress(f"warm-up pass: {len(set(paths))} labels x {3 * workers + 2}, "
                 f"statuses {sorted(set(statuses))}")
    previous = 0.0
    for _ in range(12):
        figures = wrk(port, script, seconds, connections, threads)
        total += int(figures["requests"])
        progress(f"warm-up round: {figures['rps']:,.0f} req/s, p99 {figures['p99']:.1f} ms")
        if previous and abs(figures["rps"] - previous) < 0.1 * previous:
            break
        previous = figures["rps"]
    return total


def scans_recorded(workdir: Path) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url(workdir))
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM trace_scans")).scalar_one())
    finally:
        engine.dispose()


class Appender:
    """Append ledger entries through the API at ``rate`` per second while the load runs.

    Each append is ``POST /api/v1/serials`` with one new serial of the demo batch: a new
    item, nothing about the items the scan load reads (what a busy production line does
    while consumers scan).  ``rate`` 0: nothing.
    """

    def __init__(self, port: int, token: str, rate: float) -> None:
        self.port, self.token, self.rate = port, token, rate
        self.done = self.failed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._prefix = f"W{random.getrandbits(32):08x}"

    def __enter__(self) -> Appender:
        if self.rate > 0:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(30)

    def _run(self) -> None:
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        start, n = time.monotonic(), 0
        while not self._stop.is_set():
            body = json.dumps({"gtin": "06901234567892", "lot": "SN2026A",
                               "serials": [f"{self._prefix}{n:07d}"]})
            n += 1
            try:
                conn.request("POST", "/api/v1/serials", body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                if response.status == 201:
                    self.done += 1
                else:
                    self.failed += 1
            except OSError:
                self.failed += 1
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            pause = start + n / self.rate - time.monotonic()
            if pause > 0:
                self._stop.wait(pause)


def run_load(workdir: Path, world: dict[str, Any], servers: Sequence[str], endpoints: Sequence[str],
             seconds: int, warmup: int, connections: int, wrk_threads: int,
             labels: int, appends: float = 0.0) -> list[dict[str, Any]]:
    files = {"scan": workdir / "scan_paths.txt", "eligibility": workdir / "eligibility.txt"}
    paths = scan_mix(world, labels=labels)
    files["scan"].write_text("\n".join(paths) + "\n")
    files["eligibility"].write_text("\n".join(json.dumps(b) for b in world["eligibility"]) + "\n")
    rows = []
    for endpoint in endpoints:
        script = workdir / f"{endpoint}.lua"
        method = {"scan": "GET", "eligibility": "POST", "healthz": "PING"}[endpoint]
        script.write_text(_WRK_SCRIPT % {"method": method, "token": world["tokens"]["platform"],
                                         "file": files.get(endpoint, files["scan"])})
        for server_spec in servers:
            kind, _, shape = server_spec.partition(":")
            workers, _, threads = shape.partition("x")
            server, port = start_server(workdir, kind, int(workers), int(threads or 1))
            try:
                before = scans_recorded(workdir) if endpoint == "scan" else 0
                warm_requests = warm_up(port, script, warmup, connections, wrk_threads,
                                        paths if endpoint == "scan" else (), int(workers))
                load_before = load_average()
                cpu_before, wrk_before = server_cpu(server), os.times()
                with Appender(port, world["tokens"]["producer"], appends) as appender:
                    figures = wrk(port, script, seconds, connections, wrk_threads)
                cpu_after, wrk_after = server_cpu(server), os.times()
                figures["appends_per_s"] = appender.done / seconds
                figures["append_failures"] = appender.failed
                load_after = load_average()
                figures["server_cpu_ms"] = (cpu_after - cpu_before) / figures["requests"] * 1000
                figures["wrk_cpu_ms"] = ((wrk_after.children_user + wrk_after.children_system)
                                         - (wrk_before.children_user + wrk_before.children_system)
                                         ) / figures["requests"] * 1000
            finally:
                stop_server(server)
            row = {"endpoint": endpoint, "server": server_spec, **figures,
                   "load": f"{load_before} → {load_after}"}
            # Every scan of an item must be stored once (after the workers' flush at exit).
            if endpoint == "scan":
                row["scans_counted"] = scans_recorded(workdir) - before
                row["scan_requests"] = warm_requests + figures["requests"]
            met = figures["rps"] >= TARGET_RPS and figures["p99"] < TARGET_P99_MS
            row["met"] = "met" if met else "not met"
            rows.append(row)
            print(f"  {endpoint:11} {server_spec:12} {figures['rps']:8,.0f} req/s  p50 "
                  f"{figures['p50']:6.1f} ms  p99 {figures['p99']:6.1f} ms  non-2xx "
                  f"{figures['non2xx']}  server CPU {figures['server_cpu_ms']:.2f} ms/req  wrk CPU "
                  f"{figures['wrk_cpu_ms']:.2f} ms/req  {row['met']}  load {row['load']}"
                  + (f"  counted {row['scans_counted']:,} of {row['scan_requests']:,} requests"
                     if endpoint == "scan" else "")
                  + (f"  appends {figures['appends_per_s']:.1f}/s "
                     f"({figures['append_failures']} failed)" if appends else ""), flush=True)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/web_bench"),
                        help="database, instance folder and request files (reused when present)")
    parser.add_argument("--database-url", default=None,
                        help="build into and serve from this database (an empty PostgreSQL "
                             "database made for this --workdir) instead of SQLite in --workdir")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--sold", type=int, default=2000, help="items with a whole journey")
    parser.add_argument("--sample", type=int, default=1000,
                        help="labels signed per kind when building")
    parser.add_argument("--labels", type=int, default=400,
                        help="distinct labels the scan load uses (the hot set)")
    parser.add_argument("--servers", default="sync:2,sync:4,gthread:2x4,gthread:4x4",
                        help="comma-separated kind:workers[xthreads]")
    parser.add_argument("--endpoints", default="scan,eligibility")
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=10,
                        help="seconds per warm-up round (rounds until the rate settles)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--appends", type=float, default=0.0, metavar="RATE",
                        help="also append RATE new serials per second through the API during "
                             "each measured run (entries about other items)")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="also cProfile N scan requests in process")
    parser.add_argument("--profile-only", action="store_true")
    parser.add_argument("--quick", action="store_true", help="100k events, 5 s runs")
    parser.add_argument("--json", type=Path, help="write the figures as JSON")
    args = parser.parse_args(argv)
    global DATABASE_URL
    DATABASE_URL = args.database_url
    if args.quick:
        args.events, args.sold, args.sample, args.duration, args.warmup = 100_000, 400, 300, 5, 3
    if shutil.which("wrk") is None and not args.profile_only:
        print("wrk is missing: apt-get install -y wrk", file=sys.stderr)
        return 2
    info = machine()
    print(f"machine: {info}  load {load_average()}", flush=True)
    world_file = args.workdir / "world.json"
    if world_file.exists():
        world = json.loads(world_file.read_text())
        progress(f"reusing {args.workdir} ({world['events']:,} events)")
    else:
        started = time.perf_counter()
        world = build(args.workdir, args.events, args.sold, args.sample)
        world_file.write_text(json.dumps(world, ensure_ascii=False, indent=1))
        progress(f"built {world['events']:,} events in {time.perf_counter() - started:,.0f} s")
    results: dict[str, Any] = {"machine": info, "events": world["events"]}
    if args.profile or args.profile_only:
        results["profile"] = profile(args.workdir, world, args.profile or 500, 30)
    if not args.profile_only:
        rows = run_load(args.workdir, world, args.servers.split(","), args.endpoints.split(","),
                        args.duration, args.warmup, args.connections, args.wrk_threads,
                        args.labels, args.appends)
        results["runs"] = rows
        print()
        print("| endpoint | server | req/s | p50 | p99 | non-2xx | server CPU/req | target | "
              "load (1/5/15 min) |")
        print("|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['endpoint']} | {r['server']} | {r['rps']:,.0f} | {r['p50']:.1f} ms | "
                  f"{r['p99']:.1f} ms | {r['non2xx']} | {r['server_cpu_ms']:.2f} ms | {r['met']} | "
                  f"{r['load']} |")
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
