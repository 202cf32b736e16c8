"""What every view needs to call a domain service: a write transaction, the time, the keys."""

from __future__ import annotations

import base64
import dataclasses
import enum
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime, timezone
from typing import Any, TypeVar

from flask import Flask, current_app

from ledger import note
from ledger.group_commit import GroupCommitter
from ledger.sequencer import FileLock, LogWriter, write_transaction
from ledger.signer import LogSigner
from web.db import get_session

__all__ = ["init_app", "writing", "committed", "now", "master_key", "log_keys", "origin",
           "to_json"]

T = TypeVar("T")


def init_app(app: Flask) -> None:
    """Give the app its log signer, its writer lock (SQLite) and its group committer."""
    signer = LogSigner.from_instance(app.instance_path, app.config["LEDGER_ORIGIN"])
    database = app.extensions["engine"].url.database
    lock = None
    if app.extensions["engine"].dialect.name == "sqlite" and database not in (None, "", ":memory:"):
        lock = FileLock(f"{database}-writer.lock")
    app.extensions["ledger_signer"] = signer
    app.extensions["ledger_lock"] = lock
    app.extensions["ledger_committer"] = GroupCommitter(
        app.extensions["sessionmaker"], signer, lock=lock, context=app.app_context
    )


@contextmanager
def writing() -> Iterator[LogWriter]:
    """Open one serialised ledger write transaction on this request's session.

    For a request's one small write, :func:`committed` costs less under load.
    """
    app = current_app
    with write_transaction(get_session(), app.extensions["ledger_signer"],
                           app.extensions["ledger_lock"]) as writer:
        yield writer


def committed(job: Callable[[LogWriter], T]) -> T:
    """Run ``job`` (a function of the writer) in the process's next group commit.

    The write shares one ledger transaction with those of concurrent requests
    (``ledger.group_commit``) and is rolled back alone if it raises.  ``job`` runs
    in another thread: it must use ``writer.session`` and take what it needs of the
    request before (it must not read ``request``, ``g`` or ``get_session()``).
    Returns its result once committed; raises what it raised.
    """
    session = get_session()
    if session.in_transaction() and not (session.new or session.dirty or session.deleted):
        session.rollback()  # end the request's read snapshot: later reads see the write
    committer: GroupCommitter = current_app.extensions["ledger_committer"]
    return committer.run(job)


def now() -> datetime:
    """Return the current time (aware, UTC): the one place views read the clock."""
    return datetime.now(timezone.utc)


def master_key() -> str:
    """Return the instance master key (seals label keys and personal data)."""
    key: str = current_app.config["MASTER_KEY"]
    return key


def log_keys() -> list[note.LogVerifierKey]:
    """Return the log's verifier key(s)."""
    return [note.LogVerifierKey.from_vkey(current_app.extensions["ledger_signer"].vkey)]


def origin() -> str:
    """Return the log's origin."""
    value: str = current_app.config["LEDGER_ORIGIN"]
    return value


def to_json(value: Any) -> Any:
    """Return ``value`` as JSON-ready data: dataclasses, datetimes (RFC 3339), bytes (base64)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_json(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, enum.Enum):
        return value.value
    return value
