"""Group commit: concurrent writers share transactions; one failing job is undone alone."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import audit, merkle, sequencer, store
from ledger.errors import SequencerError
from ledger.group_commit import GroupCommitter
from ledger.models import CheckpointRow, LogEntry, ObjectHead
from ledger.signer import LogSigner
from tests.factories import new_entries


class Boom(Exception):
    """A job's own failure."""


def _committer(app: Flask, signer: LogSigner, **kwargs: Any) -> GroupCommitter:
    return GroupCommitter(app.extensions["sessionmaker"], signer,
                          lock=app.extensions["ledger_lock"], **kwargs)


def _run_all(committer: GroupCommitter, jobs: list[Callable[[sequencer.LogWriter], Any]],
             hold_first: bool = True) -> list[Any]:
    """Run ``jobs`` from one thread each; the first job waits until all others are queued."""
    results: list[Any] = [None] * len(jobs)
    started, queued = threading.Event(), threading.Event()

    def first(writer: sequencer.LogWriter) -> Any:
        started.set()
        queued.wait(10)
        return jobs[0](writer)

    def call(i: int) -> None:
        try:
            results[i] = committer.run(first if i == 0 and hold_first else jobs[i])
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            results[i] = exc

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(jobs))]
    threads[0].start()
    if hold_first:
        assert started.wait(10)  # the first job runs, alone in its group
    for thread in threads[1:]:
        thread.start()
    deadline = time.monotonic() + 10
    while committer._queue.qsize() < len(jobs) - 1 and time.monotonic() < deadline:  # noqa: SLF001
        time.sleep(0.001)
    queued.set()
    for thread in threads:
        thread.join(30)
    return results


def _append(subject: str, n: int) -> Callable[[sequencer.LogWriter], list[int]]:
    def job(writer: sequencer.LogWriter) -> list[int]:
        entries = [sequencer.NewEntry("test.event", "2026-11-28T08:00:00+08:00", "actor:t",
                                      subject, {"n": n})]
        return [a.index for a in writer.append(entries)]
    return job


def test_concurrent_jobs_share_one_transaction_and_get_consecutive_indexes(
    app: Flask, db_session: Session, signer: LogSigner
) -> None:
    committer = _committer(app, signer)
    jobs = [_append(f"item:{i % 3}", i) for i in range(20)]
    results = _run_all(committer, jobs)
    indexes = sorted(i for r in results for i in r)
    assert indexes == list(range(20))
    # The first job ran alone (no savepoint) while the 19 others queued; the committer
    # then took them into the same transaction: one group, one checkpoint.
    assert (committer.groups, committer.jobs) == (1, 20)
    assert list(db_session.scalars(select(CheckpointRow.size))) == [20]
    report = audit.audit(db_session, signer.vkey, workers=1)
    assert (report.size, report.subjects) == (20, 3)


def test_jobs_queued_while_the_committer_waits_for_the_lock_join_its_group(
    app: Flask, db_session: Session, signer: LogSigner
) -> None:
    committer = _committer(app, signer)
    results: list[Any] = [None] * 6
    other: Session = app.extensions["sessionmaker"]()

    def call(i: int) -> None:
        results[i] = committer.run(_append(f"item:{i}", i))

    threads = [threading.Thread(target=call, args=(i,)) for i in range(6)]
    # Another writer holds the log (the host's file lock and SQLite's write lock, or the
    # head row on PostgreSQL).
    with sequencer.write_transaction(other, signer, app.extensions["ledger_lock"]):
        threads[0].start()
        deadline = time.monotonic() + 10
        while committer._queue.qsize() and time.monotonic() < deadline:  # noqa: SLF001
            time.sleep(0.001)  # the committer took the first job and waits for the lock
        for thread in threads[1:]:
            thread.start()
        while committer._queue.qsize() < 5 and time.monotonic() < deadline:  # noqa: SLF001
            time.sleep(0.001)
    other.close()
    for thread in threads:
        thread.join(30)
    assert sorted(i for r in results for i in r) == list(range(6))
    assert (committer.groups, committer.jobs) == (1, 6)
    assert list(db_session.scalars(select(CheckpointRow.size))) == [6]


def test_a_failing_job_is_undone_alone_and_the_chain_skips_it(
    app: Flask, db_session: Session, signer: LogSigner
) -> None:
    committer = _committer(app, signer)

    def failing(writer: sequencer.LogWriter) -> None:
        writer.append(new_entries(2, ("item:x", "item:y")))  # appended, then refused
        raise Boom("refused after appending")

    jobs = [_append("item:x", 0), _append("item:x", 1), failing, _append("item:x", 3)]
    results = _run_all(committer, jobs)
    assert isinstance(results[2], Boom)
    assert [results[0], results[1], results[3]] == [[0], [1], [2]]
    rows = list(db_session.execute(select(LogEntry.idx, LogEntry.subject).order_by(LogEntry.idx)))
    assert [tuple(r) for r in rows] == [(0, "item:x"), (1, "item:x"), (2, "item:x")]
    assert db_session.get(ObjectHead, "item:y") is None
    head = db_session.get(ObjectHead, "item:x")
    assert head is not None and (head.count, head.last_idx) == (3, 2)
    leaves = list(db_session.scalars(select(LogEntry.leaf_hash).order_by(LogEntry.idx)))
    assert store.read_head(db_session).root == merkle.root_hash(leaves)
    audit.audit(db_session, signer.vkey, workers=1)  # prev links and tiles are whole


def test_a_failed_commit_fails_every_job_of_the_group_and_writes_nothing(
    app: Flask, db_session: Session, signer: LogSigner, tmp_path: Path
) -> None:
    sequencer.append(db_session, signer, new_entries(3))
    db_session.close()
    # The signer remembers a larger checkpoint than the database holds: a restored backup.
    signer.remember(10, b"\x01" * 32)
    committer = _committer(app, signer)
    results = _run_all(committer, [_append("item:a", i) for i in range(4)])
    assert all(isinstance(r, SequencerError) for r in results)
    assert store.read_head(db_session).size == 3


def test_the_thread_stops_when_idle_and_starts_again(
    app: Flask, db_session: Session, signer: LogSigner
) -> None:
    committer = _committer(app, signer, idle=0.05)
    assert committer.run(_append("item:a", 0)) == [0]
    deadline = time.monotonic() + 5
    while any(t.name == "ledger-group-commit" and t.is_alive() for t in threading.enumerate()) \
            and committer._running and time.monotonic() < deadline:  # noqa: SLF001
        time.sleep(0.01)
    assert not committer._running  # noqa: SLF001
    assert committer.run(_append("item:a", 1)) == [1]
    assert store.read_head(db_session).size == 2


def test_results_arrive_only_after_the_commit(
    app: Flask, signer: LogSigner
) -> None:
    committer = _committer(app, signer)
    seen: list[int] = []

    def job(writer: sequencer.LogWriter) -> int:
        writer.append(new_entries(1))
        return writer.size

    size = committer.run(job)
    other: Session = app.extensions["sessionmaker"]()
    try:  # another session sees the entry as soon as run() returned
        seen.append(store.read_head(other).size)
    finally:
        other.close()
    assert seen == [size] == [1]


@pytest.mark.parametrize("kind", ["error", "ok"])
def test_a_job_sees_the_writes_of_the_jobs_before_it(
    app: Flask, signer: LogSigner, kind: str
) -> None:
    committer = _committer(app, signer)
    first, second = _append("item:z", 0), _append("item:z", 1)
    chained: list[bytes | None] = []

    def third(writer: sequencer.LogWriter) -> None:
        chained.append(writer.chain_head("item:z"))
        if kind == "error":
            raise Boom("after reading")

    results = _run_all(committer, [first, second, third])
    assert results[:2] == [[0], [1]]
    assert chained and chained[0] is not None
    assert isinstance(results[2], Boom) == (kind == "error")


def test_a_lone_failing_job_raises_its_own_error_and_writes_nothing(
    app: Flask, db_session: Session, signer: LogSigner
) -> None:
    committer = _committer(app, signer)
    assert committer.run(_append("item:a", 0)) == [0]

    def failing(writer: sequencer.LogWriter) -> None:
        writer.append(new_entries(3))
        raise Boom("refused")

    with pytest.raises(Boom):
        committer.run(failing)
    assert store.read_head(db_session).size == 1
    assert committer.run(_append("item:a", 2)) == [1]  # the committer goes on
    audit.audit(db_session, signer.vkey, workers=1)


def test_the_file_lock_excludes_threads_and_keeps_no_descriptor(tmp_path: Path) -> None:
    lock = sequencer.FileLock(tmp_path / "writer.lock")
    open_before = len(os.listdir("/proc/self/fd"))
    inside, order = threading.Event(), []

    def other() -> None:
        inside.wait(10)
        with lock.held():
            order.append("other")

    thread = threading.Thread(target=other)
    thread.start()
    with lock.held():
        inside.set()
        time.sleep(0.2)  # the other thread is waiting on the lock meanwhile
        order.append("first")
    thread.join(10)
    assert order == ["first", "other"]
    for _ in range(50):
        with lock.held():
            pass
    assert len(os.listdir("/proc/self/fd")) == open_before
