"""Rebuild query tables (projections) from the entries, exactly.

Packages register their projections here (trace and credit do, at import); the
ledger's own projection is the chain-head table.  ``replay`` clears every
registered table and re-applies every entry in index order.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, delete, insert, select
from sqlalchemy.orm import Session

from ledger.models import LogEntry, ObjectHead

__all__ = ["Projection", "ReplayedEntry", "register", "projections", "replay"]


@dataclass(frozen=True)
class ReplayedEntry:
    """An entry as replay hands it to projections."""

    index: int
    leaf_hash: bytes
    envelope: dict[str, Any]


@dataclass(frozen=True)
class Projection:
    """A set of tables derived from entries, and how to apply a batch of entries to them."""

    name: str
    tables: Sequence[Table]
    apply: Callable[[Session, Sequence[ReplayedEntry]], None]


_REGISTRY: dict[str, Projection] = {}


def register(projection: Projection) -> Projection:
    """Register ``projection`` (once per name; registering again replaces it)."""
    _REGISTRY[projection.name] = projection
    return projection


def projections() -> list[Projection]:
    """Return the registered projections in registration order."""
    return list(_REGISTRY.values())


def _apply_chain_heads(session: Session, batch: Sequence[ReplayedEntry]) -> None:
    heads: dict[str, dict[str, Any]] = {}
    for entry in batch:
        subject = entry.envelope["subject"]
        known = heads.get(subject)
        if known is None:
            row = session.get(ObjectHead, subject)
            known = {"subject": subject, "count": row.count if row else 0, "new": row is None}
            heads[subject] = known
        known.update(last_idx=entry.index, last_leaf_hash=entry.leaf_hash, count=known["count"] + 1)
    for values in heads.values():
        new = values.pop("new")
        if new:
            session.execute(insert(ObjectHead), [values])
        else:
            row = session.get(ObjectHead, values["subject"])
            assert row is not None
            row.last_idx, row.last_leaf_hash, row.count = (
                values["last_idx"], values["last_leaf_hash"], values["count"])
    session.flush()


register(Projection("ledger.chain_heads", [ObjectHead.__table__], _apply_chain_heads))  # type: ignore[list-item]


def replay(
    session: Session, progress: Callable[[int], None] | None = None, batch: int = 5_000
) -> int:
    """Clear every registered projection and re-apply all entries; return how many.

    Runs in the caller's transaction: the caller commits (or rolls back on error).
    """
    registered = projections()
    for projection in reversed(registered):
        for table in reversed(list(projection.tables)):
            session.execute(delete(table))
    done = 0
    rows = session.execute(
        select(LogEntry.idx, LogEntry.leaf_hash, LogEntry.data)
        .order_by(LogEntry.idx).execution_options(yield_per=batch)
    )
    try:
        for chunk in rows.partitions(batch):
            entries = [ReplayedEntry(i, leaf, json.loads(data)) for i, leaf, data in chunk]
            for projection in registered:
                projection.apply(session, entries)
            done += len(entries)
            if progress is not None:
                progress(done)
    finally:
        rows.close()  # a server-side cursor on PostgreSQL
    return done
