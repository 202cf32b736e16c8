"""Group commit: the writes of concurrent requests of one process, one ledger transaction.

A write transaction on the log is serialised (one writer holds the log's lock), and
what it costs is mostly per transaction, not per entry: taking the lock and reading
the head, writing tiles and chain heads, signing a checkpoint, the commit and its
sync.  With one transaction per request, requests queue for the lock one by one.
Here, requests hand their write (a *job*: a function of a :class:`LogWriter`) to one
committer thread of the process, which takes the next job, opens the transaction (its
wait for the log's lock is when other jobs queue up), then runs every job waiting one
after another in that transaction, each inside a savepoint, takes those that arrived
meanwhile too, and commits once (as the sequencers of Trillian and Tessera integrate
queued entries in batches).

Each job still sees everything the jobs before it wrote, as if it ran alone, and a
job that raises is rolled back to its savepoint alone: the others commit.  (A job
that finds nobody waiting, the usual case on a quiet server, runs without a
savepoint: its failure is the transaction's, and the transaction is its own.)  A
job's caller gets its result only once the transaction has committed, and every
caller of a group whose commit fails gets that failure.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import Session

from ledger.sequencer import FileLock, LogWriter, write_transaction
from ledger.signer import LogSigner

__all__ = ["GroupCommitter"]

T = TypeVar("T")


@dataclass
class _Job(Generic[T]):
    run: Callable[[LogWriter], T]
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None


class GroupCommitter:
    """Run the log writes of many threads of one process in shared transactions.

    ``sessions`` makes the committer's session; ``context``, if given, is entered
    around each group (the web app passes its application context).  At most
    ``max_jobs`` jobs share one transaction.  The thread starts with the first job
    and stops after ``idle`` seconds without one.
    """

    def __init__(
        self,
        sessions: Callable[[], Session],
        signer: LogSigner,
        *,
        lock: FileLock | None = None,
        context: Callable[[], AbstractContextManager[Any]] | None = None,
        max_jobs: int = 256,
        idle: float = 5.0,
    ) -> None:
        self._sessions = sessions
        self._signer = signer
        self._lock = lock
        self._context = context or nullcontext
        self._max_jobs = max_jobs
        self._idle = idle
        self._queue: queue.SimpleQueue[_Job[Any]] = queue.SimpleQueue()
        self._state = threading.Lock()
        self._running = False  # a committer thread is serving the queue
        self._pid = os.getpid()
        self.groups = 0  # transactions committed or rolled back (for tests and benchmarks)
        self.jobs = 0

    def run(self, job: Callable[[LogWriter], T]) -> T:
        """Run ``job`` in the next group and return its result once committed.

        :raises: whatever ``job`` raised (the others of its group are unaffected), or
            what made the group's commit fail.
        """
        item: _Job[T] = _Job(job)
        with self._state:
            if self._pid != os.getpid():  # a forked child (a gunicorn worker) has no thread
                self._queue, self._running, self._pid = queue.SimpleQueue(), False, os.getpid()
            self._queue.put(item)
            if not self._running:
                threading.Thread(target=self._loop, name="ledger-group-commit",
                                 daemon=True).start()
                self._running = True
        item.done.wait()
        if item.error is not None:
            raise item.error
        result: T = item.result
        return result

    def _take(self) -> list[_Job[Any]] | None:
        """Return a list with the next job; None when idle long enough to stop."""
        try:
            return [self._queue.get(timeout=self._idle)]
        except queue.Empty:
            with self._state:  # no job can be queued meanwhile: run() puts under this lock
                if self._queue.empty():
                    self._running = False
                    return None
            return [self._queue.get()]

    def _drain(self, jobs: list[_Job[Any]]) -> None:
        """Add the jobs waiting now to ``jobs``, up to ``max_jobs`` in all."""
        while len(jobs) < self._max_jobs:
            try:
                jobs.append(self._queue.get_nowait())
            except queue.Empty:
                return

    def _loop(self) -> None:
        while (jobs := self._take()) is not None:
            try:
                with self._context():
                    self._commit(jobs)
            except BaseException as exc:  # the group failed: every caller hears of it
                for job in jobs:
                    if job.error is None:
                        job.error = exc
            finally:
                self.groups += 1
                self.jobs += len(jobs)
                for job in jobs:
                    job.done.set()

    def _commit(self, jobs: list[_Job[Any]]) -> None:
        """Run ``jobs`` and those queued meanwhile (added to ``jobs``) in one transaction."""
        session = self._sessions()
        try:
            with write_transaction(session, self._signer, self._lock) as writer:
                self._drain(jobs)  # those that queued while this thread waited for the lock
                done = 0
                if len(jobs) == 1:  # alone: its failure is the transaction's, no savepoint
                    jobs[0].result = jobs[0].run(writer)
                    done = 1
                    self._drain(jobs)
                while done < len(jobs):
                    job = jobs[done]
                    mark = writer.mark()
                    savepoint = session.begin_nested()
                    try:
                        job.result = job.run(writer)
                        savepoint.commit()
                    except Exception as exc:  # this job alone is undone
                        savepoint.rollback()
                        writer.reset(mark)
                        job.error = exc
                    done += 1
                    if done == len(jobs):
                        self._drain(jobs)  # those that arrived while these ran
        finally:
            session.close()
