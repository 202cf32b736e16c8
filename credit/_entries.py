"""Internal helpers shared by the credit services: ids, times, roles, append-then-project.

Every write goes the same way: check, append the entry through the caller's
``LogWriter``, then hand the appended entry to the SAME ``apply`` function that
``flask ledger replay`` runs (credit/projections.py), so replay rebuilds identical rows.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from credit.errors import Forbidden, InvalidInput
from credit.rules import utc
from ledger.actor import Actor
from ledger.entry import format_time
from ledger.replay import ReplayedEntry
from ledger.sequencer import LogWriter, NewEntry

__all__ = ["new_id", "aware", "ts", "parse_ts", "require_role", "write", "subject_key",
           "Apply"]

Apply = Callable[[Session, Sequence[ReplayedEntry]], None]


def new_id() -> str:
    """Return a fresh random id (64 bits, hex); ids travel in entry bodies, so replay keeps them."""
    return secrets.token_hex(8)


def aware(when: datetime, name: str = "now") -> datetime:
    """Return ``when`` in UTC.

    :raises InvalidInput: when ``when`` is naive (times are inputs and must say their zone).
    """
    if when.tzinfo is None or when.utcoffset() is None:
        raise InvalidInput(f"{name} {when.isoformat()!r} has no timezone")
    return utc(when)


def ts(when: datetime | None) -> str | None:
    """Return ``when`` as an RFC 3339 UTC string for an entry body (None stays None)."""
    return None if when is None else format_time(utc(when))


def parse_ts(text: str | None) -> datetime | None:
    """Return the UTC datetime of an entry body's RFC 3339 string (None stays None)."""
    return None if text is None else utc(datetime.fromisoformat(text.replace("Z", "+00:00")))


def require_role(actor: Actor, roles: Collection[str], act: str) -> None:
    """Refuse ``act`` unless ``actor`` acts in one of ``roles``.

    :raises Forbidden: naming the role and the act.
    """
    if actor.role not in roles:
        raise Forbidden(f"role {actor.role!r} may not {act} (allowed: {', '.join(sorted(roles))})")


def subject_key(subject_id: str) -> str:
    """Return the ledger subject (hash chain) of a credit subject."""
    return f"subject:{subject_id}"


def write(writer: LogWriter, actor: Actor, now: datetime, apply: Apply,
          entries: Sequence[tuple[str, str, Mapping[str, Any]]]) -> list[ReplayedEntry]:
    """Append ``(kind, ledger subject, body)`` entries at ``now``, then project them with ``apply``.

    :raises InvalidInput: when ``now`` is naive.
    :raises EntryError: when a body cannot be canonicalised (nothing is kept: the
        caller's transaction rolls back).
    """
    when = format_time(aware(now))
    appended = writer.append([NewEntry(kind, when, actor.id, subject, dict(body))
                              for kind, subject, body in entries])
    replayed = [ReplayedEntry(a.index, a.leaf_hash, json.loads(a.data)) for a in appended]
    apply(writer.session, replayed)
    return replayed
