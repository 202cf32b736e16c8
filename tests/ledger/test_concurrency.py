"""Several writer processes never fork the log nor reuse an index; a killed writer leaves nothing."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ledger import merkle, note, sequencer, store
from ledger.audit import audit
from ledger.models import CheckpointRow, LogEntry
from ledger.signer import LogSigner
from tests.factories import new_entries
from web.db import make_engine

ROOT = Path(__file__).resolve().parents[2]


def _writer(url: str, instance: str, origin: str, worker: int, batches: int, size: int) -> None:
    engine = make_engine(url)
    signer = LogSigner.from_instance(instance, origin)
    session = sessionmaker(engine)()
    for b in range(batches):
        subjects = [f"item:w{worker}:{k}" for k in range(5)] + ["item:shared"]
        sequencer.append(session, signer, new_entries(size, subjects, start=b * size))
    session.close()
    engine.dispose()


def test_concurrent_writer_processes_never_fork_or_reuse_an_index(
    app: Flask, db_session: Session, signer: LogSigner
) -> None:
    workers, batches, size = 4, 6, 25
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_writer, args=(app.config["DATABASE_URL"], app.instance_path,
                                          signer.origin, w, batches, size))
        for w in range(workers)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
        assert proc.exitcode == 0
    total = workers * batches * size
    assert store.read_head(db_session).size == total
    indexes = list(db_session.scalars(select(LogEntry.idx).order_by(LogEntry.idx)))
    assert indexes == list(range(total))  # no gap, no reuse
    # Every checkpoint is consistent with the next one, and each is validly signed.
    verifier = note.LogVerifierKey.from_vkey(signer.vkey)
    rows = list(db_session.scalars(select(CheckpointRow).order_by(CheckpointRow.size)))
    assert len(rows) == workers * batches
    for earlier, later in zip(rows, rows[1:]):
        note.verify_note(later.note, [verifier])
        path = store.consistency_proof(db_session, earlier.size, later.size)
        merkle.verify_consistency(earlier.size, later.size, path, earlier.root, later.root)
    # The shared object's chain stayed one chain across processes.
    report = audit(db_session, signer.vkey)
    assert report.size == total


_KILL_SCRIPT = """
import sys, time
from sqlalchemy.orm import sessionmaker
from ledger import sequencer
from ledger.signer import LogSigner
from tests.factories import new_entries
from web.db import make_engine
url, instance, origin, marker = sys.argv[1:5]
engine = make_engine(url)
signer = LogSigner.from_instance(instance, origin)
session = sessionmaker(engine)()
with sequencer.write_transaction(session, signer) as writer:
    writer.append(new_entries(3000, start=1000))
    open(marker, "w").write("inside")
    time.sleep(60)  # killed here, mid-transaction
"""


def test_a_writer_killed_mid_batch_leaves_all_or_nothing(
    app: Flask, db_session: Session, signer: LogSigner, tmp_path: Path
) -> None:
    sequencer.append(db_session, signer, new_entries(10))
    db_session.close()
    marker = tmp_path / "inside"
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILL_SCRIPT, app.config["DATABASE_URL"], app.instance_path,
         signer.origin, str(marker)], cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert proc.poll() is None, "writer exited before it was killed"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    # None of the killed batch is there, and the log takes new appends at once.
    assert store.read_head(db_session).size == 10
    assert db_session.scalar(select(func.count()).select_from(LogEntry)) == 10
    appended = sequencer.append(db_session, signer, new_entries(5, start=10))
    assert [a.index for a in appended] == [10, 11, 12, 13, 14]
    assert audit(db_session, signer.vkey).size == 15
