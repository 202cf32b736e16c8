"""``DATABASE_REPLICA_URL``: the scan page reads from the replica, scans and writes go to
the primary.

The replica here is a copy of the primary's SQLite file taken with SQLite's online
backup API: a replica that lags until the next copy, which makes visible which database
each read goes to.  (On every run: it needs no server.)
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from flask import Flask
from sqlalchemy import select

from ledger.actor import Actor
from tests.conftest import make_app
from trace import label_keys, services
from web.demo import GTIN, LOT
from web.glue import writing


def _copy(primary: Path, replica: Path) -> None:
    source, target = sqlite3.connect(primary), sqlite3.connect(replica)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()


def _outcome(app: Flask, path: str) -> tuple[str, str]:
    response = app.test_client().get(path, headers={"X-Geo-City": "青岛"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    found = re.search(r'data-outcome="(\w+)"', html)
    count = re.search(r"此码已被查询 (\d+) 次", html)
    assert found and count, html[:300]
    return found.group(1), count.group(1)


def test_the_scan_page_reads_the_replica_and_counts_on_the_primary(tmp_path: Path) -> None:
    primary_app = make_app(tmp_path, None)
    output = primary_app.test_cli_runner().invoke(args=["demo", "load", "--base-url", "http://x"])
    label = next(line.removeprefix("http://x") for line in output.output.splitlines()
                 if line.startswith("http://x/01/"))
    primary, replica = tmp_path / "test.db", tmp_path / "replica.db"
    _copy(primary, replica)
    app = make_app(tmp_path, None, DATABASE_REPLICA_URL=f"sqlite:///{replica}")
    try:
        assert _outcome(app, label)[0] == "authentic"
        # A recall on the primary: the replica has not caught up yet.
        with app.app_context():
            from web.db import get_session

            producer = get_session().scalars(select(label_keys.LabelKeyRow.producer)).first()
            with writing() as writer:
                services.record_event(writer, Actor(producer, "producer"), "recall",
                                      {"gtin": GTIN, "lot": LOT, "reason": "瓶盖密封不良"})
        outcome, count = _outcome(app, label)
        assert outcome == "authentic"   # read from the replica
        assert count == "2"             # counted on the primary (the replica has none)
        _copy(primary, replica)          # the replica catches up
        outcome, count = _outcome(app, label)
        assert (outcome, count) == ("recalled", "3")
        assert _outcome(primary_app, label) == ("recalled", "4")
    finally:
        app.extensions["engine"].dispose()
        app.extensions["read_engine"].dispose()
        primary_app.extensions["engine"].dispose()
