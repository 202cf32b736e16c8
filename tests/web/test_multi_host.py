"""Two hosts, each its own gunicorn with several workers and its own instance folder
(the same keys, its own signer state), append at once to one database: no fork.

This is the production topology of docs/deployment.md on one machine: the hosts are
two gunicorn masters on two ports; what they share is only the database (PostgreSQL
on the PostgreSQL run, one SQLite file on the SQLite run) and the key files.
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
                   RATELIMIT_ENABLED="false", LOG_LEVEL="WARNING")
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
