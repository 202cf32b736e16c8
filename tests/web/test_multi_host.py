"""Two hosts, each its own gunicorn with several workers and its own instance folder
(the same keys, its own signer state), append at once to one database: no fork; and
behind a reverse proxy, they share one rate-limit count per client in Redis.

This is the production topology of docs/deployment.md on one machine: the hosts are
two gunicorn masters on two ports; what they share is only the database (PostgreSQL
on the PostgreSQL run, one SQLite file on the SQLite run), the key files and Redis
(the machine's server on 127.0.0.1:6379).  The reverse proxy is a small one written
here (round robin, ``X-Forwarded-For`` and ``-Proto``), standing in for nginx.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import audit, merkle, note, store
from ledger.actor import Actor
from ledger.models import CheckpointRow
from tests.conftest import ORIGIN
from web.auth import issue_token

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
GTIN = "06901234567892"
KEY_FILES = ("ledger-log.key", "trust-list.key", "master_key", "secret_key")
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _request(port: int, method: str, path: str, token: str | None = None,
             body: object = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn.request(method, path, body=json.dumps(body) if body is not None else None,
                 headers=headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data


@pytest.fixture
def hosts(app: Flask, tmp_path: Path) -> Iterator[list[int]]:
    """Start hosts A and B (2 workers each) on the app's database; yield their ports."""
    with _hosts(app, tmp_path, {"RATELIMIT_ENABLED": "false"}) as ports:
        yield ports


@contextmanager
def _hosts(app: Flask, tmp_path: Path, settings: dict[str, str]) -> Iterator[list[int]]:
    url = app.extensions["engine"].url.render_as_string(hide_password=False)
    ports, procs = [], []
    for name in ("a", "b"):
        instance = tmp_path / f"host-{name}"
        instance.mkdir()
        for key in KEY_FILES:  # distributed once, as docs/deployment.md says
            source = Path(app.instance_path) / key
            if source.exists():
                shutil.copy(source, instance / key)
        port = _free_port()
        env = dict(os.environ, DATABASE_URL=url, INSTANCE_PATH=str(instance),
                   LEDGER_ORIGIN=ORIGIN, PUBLIC_BASE_URL="https://t.example.cn",
                   LOG_LEVEL="WARNING", **settings)
        env.pop("FLASK_APP", None)
        log = open(tmp_path / f"host-{name}.log", "wb")  # noqa: SIM115 - closed below
        procs.append((subprocess.Popen(
            [str(BIN / "gunicorn"), "--workers", "2", "--worker-class", "gthread",
             "--threads", "4", "--bind", f"127.0.0.1:{port}", "wsgi:app"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT), log))
        ports.append(port)
    try:
        for port, (proc, log) in zip(ports, procs):
            deadline = time.monotonic() + 60
            while True:
                try:
                    if _request(port, "GET", "/healthz")[0] == 200:
                        break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(Path(log.name).read_text())
                time.sleep(0.2)
        yield ports
    finally:
        for proc, log in procs:
            proc.terminate()
            proc.wait(timeout=30)
            log.close()


def test_two_hosts_appending_at_once_keep_one_log(
    app: Flask, db_session: Session, hosts: list[int]
) -> None:
    producer = issue_token(db_session, Actor("subject:producer-1", "producer"))
    db_session.commit()
    a, b = hosts
    assert _request(a, "POST", "/api/v1/products", producer,
                    {"gtin": GTIN, "name": "遂宁矿泉水 550ml", "category": "food"})[0] == 201
    # Host B sees what host A wrote at once: one database, no host-local state.
    assert _request(b, "POST", "/api/v1/batches", producer,
                    {"gtin": GTIN, "lot": "MH1", "production_date": "2026-11-01"})[0] == 201

    failures: list[str] = []
    indexes: list[int] = []

    def client(port: int, name: str) -> None:
        for i in range(15):
            status, data = _request(port, "POST", "/api/v1/serials", producer,
                                    {"gtin": GTIN, "lot": "MH1", "serials": [f"{name}{i:03d}"]})
            if status != 201:
                failures.append(f"{port}: {status} {data[:200]!r}")
            else:
                indexes.append(json.loads(data)["first_index"])

    threads = [threading.Thread(target=client, args=(port, f"{tag}{n}"))
               for port, tag in ((a, "A"), (b, "B")) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert failures == []
    # No index used twice, no gap: 2 set-up entries, then the 120 serials.
    assert sorted(indexes) == list(range(2, 122))

    report = audit.audit(db_session, app.extensions["ledger_signer"].vkey, workers=1)
    assert report.size == 122
    # Every checkpoint either host signed is consistent with the next one.
    rows = list(db_session.execute(select(CheckpointRow.size, CheckpointRow.root, CheckpointRow.note)
                                   .order_by(CheckpointRow.size)))
    assert len(rows) >= 2 and rows[-1].size == 122
    verifier = note.LogVerifierKey.from_vkey(app.extensions["ledger_signer"].vkey)
    for (size, root, text), (size2, root2, _) in zip(rows, rows[1:]):
        assert size < size2
        assert note.verify_checkpoint(text, [verifier], ORIGIN).root_hash == root
        proof = store.consistency_proof(db_session, size, size2)
        merkle.verify_consistency(size, size2, proof, root, root2)
    # Both hosts serve the same latest checkpoint.
    served = {_request(port, "GET", "/ledger/checkpoint")[1] for port in hosts}
    assert len(served) == 1 and b"\n122\n" in served.pop()


class _Proxy(BaseHTTPRequestHandler):
    """Round robin over ``upstreams``, adding X-Forwarded-For/-Proto as nginx would."""

    upstreams: list[int] = []
    turn = 0
    protocol_version = "HTTP/1.1"

    def _forward(self) -> None:
        port = self.upstreams[type(self).turn % len(self.upstreams)]
        type(self).turn += 1
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection",)}
        headers["X-Forwarded-For"] = self.headers.get("X-Test-Client") or self.client_address[0]
        headers["X-Forwarded-Proto"] = "https"
        upstream = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        upstream.request(self.command, self.path, body=body, headers=headers)
        response = upstream.getresponse()
        data = response.read()
        self.send_response(response.status)
        for key, value in response.getheaders():
            if key.lower() not in ("connection", "transfer-encoding", "content-length"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Upstream", str(port))
        self.end_headers()
        self.wfile.write(data)
        upstream.close()

    do_GET = do_POST = _forward

    def log_message(self, *args: object) -> None:
        pass


def test_behind_a_proxy_the_hosts_share_one_rate_limit_per_client(
    app: Flask, tmp_path: Path
) -> None:
    import redis

    prefix = f"trace-test-{os.getpid()}-{time.monotonic_ns()}"
    settings = {"RATELIMIT_ENABLED": "true", "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0",
                "RATELIMIT_KEY_PREFIX": prefix, "TRUST_PROXY_HOPS": "1"}
    with _hosts(app, tmp_path, settings) as ports:
        _Proxy.upstreams, _Proxy.turn = ports, 0
        proxy = ThreadingHTTPServer(("127.0.0.1", 0), _Proxy)
        threading.Thread(target=proxy.serve_forever, daemon=True).start()
        try:
            port = proxy.server_address[1]
            path = "/01/06901234567892/10/L1/21/S1?17=271231&k=AAAA&s=AAAA"
            seen: dict[str, list[int]] = {"one": [], "other": []}
            upstreams = set()
            for _ in range(121):  # the scan page allows 120 per minute per client address
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                conn.request("GET", path, headers={"X-Test-Client": "203.0.113.7"})
                response = conn.getresponse()
                response.read()
                seen["one"].append(response.status)
                upstreams.add(response.getheader("X-Upstream"))
                conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            conn.request("GET", path, headers={"X-Test-Client": "198.51.100.9"})
            response = conn.getresponse()
            response.read()
            seen["other"].append(response.status)
            conn.close()
        finally:
            proxy.shutdown()
            proxy.server_close()
            client = redis.Redis(host="127.0.0.1", port=6379, db=0)
            for key in client.scan_iter(f"{prefix}*"):
                client.delete(key)
    assert upstreams == {str(p) for p in ports}  # both hosts served the client
    # 4 workers on 2 hosts, one count: the 121st scan of the client is refused ...
    assert seen["one"][:120] == [200] * 120 and seen["one"][120] == 429
    # ... and only that client's (the proxy's X-Forwarded-For, trusted one hop, names it).
    assert seen["other"] == [200]
