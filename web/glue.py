"""What every view needs to call a domain service: a write transaction, the time, the keys."""

from __future__ import annotations

import base64
import dataclasses
import enum
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime, timezone
from typing import Any

from flask import current_app

from ledger import note
from ledger.sequencer import LogWriter, write_transaction
from web.db import get_session

__all__ = ["writing", "now", "master_key", "log_keys", "origin", "to_json"]


@contextmanager
def writing() -> Iterator[LogWriter]:
    """Open one serialised ledger write transaction on this request's session."""
    with write_transaction(get_session(), current_app.extensions["ledger_signer"]) as writer:
        yield writer


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
