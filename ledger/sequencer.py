"""Serialised, batched appends to the log, and the signing of each new checkpoint.

One writer integrates at a time: on SQLite the transaction starts with
``BEGIN IMMEDIATE`` (the write lock), on PostgreSQL the head row is locked with
``SELECT … FOR UPDATE``.  A batch is one transaction: its entries, tiles, chain
heads, the new head and the signed checkpoint commit together or not at all.
"""

from __future__ import annotations

import base64
import fcntl
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ledger import merkle
from ledger.entry import make_entry
from ledger.errors import SequencerError
from ledger.models import HEAD_ID, CheckpointRow, LogEntry, LogHead, ObjectHead, Tile
from ledger.signer import LogSigner
from ledger.store import HASH_SIZE, TILE_HEIGHT, TILE_WIDTH, LogState, tiles_matching

__all__ = ["NewEntry", "Appended", "LogWriter", "Mark", "FileLock", "write_transaction", "append"]

_CHUNK = 500  # rows per IN (...) lookup; well under SQLite's variable limit

# Core tables: batches are written with executemany, without the ORM's per-row bookkeeping.
# (A declarative class's __table__ is typed FromClause; for these mapped classes it is a Table.)
_ENTRIES = cast(Table, LogEntry.__table__)
_OBJECTS = cast(Table, ObjectHead.__table__)
_TILES = cast(Table, Tile.__table__)
_HEAD = cast(Table, LogHead.__table__)
_INSERT_ENTRIES = _ENTRIES.insert()
_INSERT_OBJECTS = _OBJECTS.insert()
_UPDATE_OBJECTS = (
    _OBJECTS.update()
    .where(_OBJECTS.c.subject == bindparam("b_subject"))
    .values(last_idx=bindparam("b_last_idx"), last_leaf_hash=bindparam("b_last_leaf_hash"),
            count=bindparam("b_count"))
)
_INSERT_TILES = _TILES.insert()
_UPDATE_TILES = (
    _TILES.update()
    .where(_TILES.c.level == bindparam("b_level"), _TILES.c.idx == bindparam("b_idx"))
    .values(hashes=bindparam("b_hashes"))
)


@dataclass(frozen=True)
class NewEntry:
    """An entry to append; the sequencer fills in ``prev`` from the subject's chain."""

    kind: str
    time: str
    actor: str
    subject: str
    body: Mapping[str, Any]


@dataclass(frozen=True)
class Appended:
    """An entry as integrated: its index, exact bytes, leaf hash and chain link."""

    index: int
    leaf_hash: bytes
    data: bytes
    subject: str
    kind: str
    prev: bytes | None


@dataclass(frozen=True)
class Mark:
    """A writer's state between two appends (see :meth:`LogWriter.mark`)."""

    size: int
    frontier: merkle.Frontier
    appended: int
    nodes: int
    chains: dict[str, tuple[int, bytes, int, bool]]


@dataclass
class LogWriter:
    """The appends of one write transaction; obtained from ``write_transaction``."""

    session: Session
    head: LogHead
    appended: list[Appended] = field(default_factory=list)
    _chains: dict[str, tuple[int, bytes, int, bool]] = field(default_factory=dict)
    # Tile nodes computed but not yet written: written once, when the transaction ends,
    # as is the head (its size, frontier and root live here until then).
    _nodes: list[tuple[int, int, bytes]] = field(default_factory=list)
    _frontier: merkle.Frontier = field(init=False)
    _size: int = field(init=False)

    def __post_init__(self) -> None:
        self._frontier, self._size = merkle.decode_frontier(self.head.frontier)

    @property
    def size(self) -> int:
        """Return the log size including this transaction's appends so far."""
        return self._size

    def chain_head(self, subject: str) -> bytes | None:
        """Return the leaf hash of the last entry about ``subject`` (None if it has none)."""
        self._load_chains([subject])
        found = self._chains.get(subject)
        return found[1] if found else None

    def append(self, entries: Sequence[NewEntry]) -> list[Appended]:
        """Integrate ``entries`` in order and return them with their indexes.

        :raises EntryError: when an entry is malformed (nothing of the batch is kept
            once the transaction rolls back).
        """
        self._load_chains([e.subject for e in entries])
        start = self._size
        batch: list[Appended] = []
        for offset, new in enumerate(entries):
            known = self._chains.get(new.subject)
            prev = known[1] if known else None
            data = make_entry(new.kind, new.time, new.actor, new.subject, prev, dict(new.body))
            leaf = merkle.leaf_hash(data)
            index = start + offset
            batch.append(Appended(index, leaf, data, new.subject, new.kind, prev))
            count = known[2] + 1 if known else 1
            self._chains[new.subject] = (index, leaf, count, known[3] if known else False)
        if not batch:
            return []
        self._integrate(batch)
        self.appended.extend(batch)
        return batch

    def _load_chains(self, subjects: Sequence[str]) -> None:
        missing = sorted({s for s in subjects if s not in self._chains})
        for i in range(0, len(missing), _CHUNK):
            chunk = missing[i : i + _CHUNK]
            rows = self.session.execute(
                select(ObjectHead.subject, ObjectHead.last_idx, ObjectHead.last_leaf_hash,
                       ObjectHead.count).where(ObjectHead.subject.in_(chunk))
            )
            for subject, idx, leaf, count in rows:
                # The last flag says the row exists already (update, not insert).
                self._chains[subject] = (idx, leaf, count, True)

    def _integrate(self, batch: list[Appended]) -> None:
        frontier, size, nodes = merkle.append(
            self._frontier, self._size, [a.leaf_hash for a in batch]
        )
        self.session.connection().execute(
            _INSERT_ENTRIES,
            [{"idx": a.index, "leaf_hash": a.leaf_hash, "subject": a.subject, "kind": a.kind,
              "data": a.data} for a in batch],
        )
        self._nodes.extend(nodes)
        self._frontier, self._size = frontier, size

    def _write_tiles(self, nodes: Sequence[tuple[int, int, bytes]]) -> None:
        grouped: dict[tuple[int, int], list[tuple[int, bytes]]] = {}
        for level, index, digest in nodes:
            if level % TILE_HEIGHT == 0:
                tile_index, offset = divmod(index, TILE_WIDTH)
                grouped.setdefault((level // TILE_HEIGHT, tile_index), []).append((offset, digest))
        if not grouped:
            return
        # Read through Core, not Session.get: a Tile object in the session's identity map
        # would be stale once another writer has extended the tile since it was loaded.
        conn = self.session.connection()
        stored_tiles = {
            (level, idx): hashes for level, idx, hashes in conn.execute(
                select(_TILES.c.level, _TILES.c.idx, _TILES.c.hashes)
                .where(tiles_matching(grouped)))
        }
        new_rows, changed = [], []
        for (tile_level, tile_index), items in grouped.items():
            items.sort()
            stored = stored_tiles.get((tile_level, tile_index))
            have = len(stored) if stored is not None else 0
            if have != items[0][0] * HASH_SIZE:
                raise SequencerError(
                    f"tile {tile_level}/{tile_index} holds {have // HASH_SIZE} hashes, "
                    f"expected {items[0][0]}: the stored tree is damaged"
                )
            data = (stored or b"") + b"".join(d for _, d in items)
            if stored is None:
                new_rows.append({"level": tile_level, "idx": tile_index, "hashes": data})
            else:
                changed.append({"b_level": tile_level, "b_idx": tile_index, "b_hashes": data})
        if new_rows:
            conn.execute(_INSERT_TILES, new_rows)
        if changed:
            conn.execute(_UPDATE_TILES, changed)

    def mark(self) -> Mark:
        """Return the writer's state, for :meth:`reset` after a rolled-back savepoint."""
        return Mark(self._size, self._frontier, len(self.appended), len(self._nodes),
                    dict(self._chains))

    def reset(self, mark: Mark) -> None:
        """Forget the appends made since ``mark`` (their rows went with a savepoint)."""
        self._size, self._frontier = mark.size, mark.frontier
        del self.appended[mark.appended:]
        del self._nodes[mark.nodes:]
        self._chains = mark.chains

    def flush(self) -> None:
        """Write the tiles, chain heads and head of everything this transaction appended."""
        self._write_tiles(self._nodes)
        self._nodes = []
        self._flush_chains()
        head = self.head
        head.size = self._size
        head.frontier = merkle.encode_frontier(self._frontier, self._size)
        head.root = merkle.frontier_root(self._frontier, self._size)

    def _flush_chains(self) -> None:
        new_rows, changed = [], []
        for subject in {a.subject for a in self.appended}:
            idx, leaf, count, exists = self._chains[subject]
            if exists:
                changed.append({"b_subject": subject, "b_last_idx": idx,
                                "b_last_leaf_hash": leaf, "b_count": count})
            else:
                new_rows.append({"subject": subject, "last_idx": idx, "last_leaf_hash": leaf,
                                 "count": count})
        conn = self.session.connection()
        if new_rows:
            conn.execute(_INSERT_OBJECTS, new_rows)
        if changed:
            conn.execute(_UPDATE_OBJECTS, changed)


def _create_head(session: Session, origin: str) -> None:
    """Insert the head row unless it exists (INSERT … ON CONFLICT DO NOTHING).

    Two writers making the very first append at once both find no head row; with a
    plain INSERT the second would fail on the primary key once the first commits.
    ON CONFLICT DO NOTHING makes the second wait for the first and then do nothing,
    and its SELECT … FOR UPDATE that follows (a new snapshot under READ COMMITTED)
    finds and locks the first one's row.
    """
    values = {"id": HEAD_ID, "origin": origin, "size": 0, "root": merkle.EMPTY_ROOT,
              "frontier": merkle.encode_frontier((), 0), "checkpoint": None}
    conn = session.connection()
    name = conn.dialect.name
    if name in ("postgresql", "sqlite"):
        dialect_insert = postgresql.insert if name == "postgresql" else sqlite.insert
        conn.execute(dialect_insert(_HEAD).values(values)
                     .on_conflict_do_nothing(index_elements=["id"]))
    else:  # no portable upsert: a racing first writer may fail on the primary key
        conn.execute(_HEAD.insert().values(values))


def _lock_head(session: Session, origin: str) -> LogHead:
    if session.in_transaction():
        if session.new or session.dirty or session.deleted:
            raise SequencerError("a log write must start its own transaction")
        session.rollback()
    # SQLite: BEGIN IMMEDIATE takes the database write lock before anything is read.
    session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
    # populate_existing: the session may hold the head from an earlier transaction
    # (expire_on_commit=False); without it Session.get would lock the row but return
    # that stale object, and this batch would reuse indexes another writer took since.
    head = session.get(LogHead, HEAD_ID, with_for_update=True, populate_existing=True)
    if head is None:
        _create_head(session, origin)
        head = session.get(LogHead, HEAD_ID, with_for_update=True, populate_existing=True)
        assert head is not None
    if head.origin != origin:
        raise SequencerError(
            f"this database holds the log {head.origin!r}, not {origin!r} (LEDGER_ORIGIN)"
        )
    return head


class FileLock:
    """An exclusive ``flock`` on a file, held by one writer of the host at a time.

    SQLite makes a writer that finds the database locked sleep and poll (1, 2, 5, 10 ms
    and longer), so writers of several processes would mostly sleep; the kernel wakes
    the next ``flock`` waiter as soon as the lock is free.  The database lock still
    decides: the file lock only queues the writers of one host in front of it.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold the lock for the duration of the block."""
        # A descriptor of its own per hold: flock locks belong to the open file description,
        # so two threads sharing one would not exclude each other; closing it unlocks, and
        # no descriptor outlives its thread (the group committer's threads come and go).
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


@contextmanager
def write_transaction(
    session: Session, signer: LogSigner, lock: FileLock | None = None
) -> Iterator[LogWriter]:
    """Open one serialised write transaction on the log, sign and commit it on exit.

    Everything the block writes through ``session`` (projections, say) commits in the
    same transaction as the entries.  On an exception everything is rolled back.
    ``lock``, if given, is taken before the database's own write lock and released
    after the commit (see :class:`FileLock`).

    :raises SequencerError: when the log would fork or belongs to another origin.
    """
    with lock.held() if lock is not None else nullcontext():
        with _write_transaction(session, signer) as writer:
            yield writer


@contextmanager
def _write_transaction(session: Session, signer: LogSigner) -> Iterator[LogWriter]:
    writer = LogWriter(session, _lock_head(session, signer.origin))
    before = LogState(signer.origin, writer.head.size, writer.head.root, writer.head.checkpoint)
    try:
        yield writer
        if writer.appended:
            writer.flush()
            note = signer.sign_checkpoint(session, before, writer.head.size, writer.head.root)
            writer.head.checkpoint = note
            session.add(CheckpointRow(size=writer.head.size, root=writer.head.root, note=note,
                                      signed_at=datetime.now(timezone.utc)))
        session.commit()
    except BaseException:
        session.rollback()
        raise
    if writer.appended:
        signer.remember(writer.head.size, writer.head.root)


def append(session: Session, signer: LogSigner, entries: Sequence[NewEntry]) -> list[Appended]:
    """Append ``entries`` as one batch in a transaction of their own, and return them."""
    with write_transaction(session, signer) as writer:
        return writer.append(entries)


def b64(data: bytes) -> str:
    """Return standard base64 of ``data`` (the encoding of hashes in our JSON)."""
    return base64.b64encode(data).decode("ascii")
