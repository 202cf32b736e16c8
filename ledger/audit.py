"""Recompute the whole log from its entry bytes and name the first thing that does not match.

The audit reads every entry in index order and checks, in one pass:
1. the stored leaf hash equals SHA-256(0x00 || entry bytes)        (altered entry bytes)
2. the entry is a well-formed envelope about the row's subject and kind
3. ``prev`` names the previous entry about the same subject          (broken chain link)
4. every stored tile hash equals the recomputed tree node            (altered node hash)
5. every stored checkpoint's root equals the recomputed root at its size
6. the head (size, root, compact range) equals the recomputation
7. the latest checkpoint is signed by the log's key and matches the head
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import merkle, note
from ledger.errors import AuditError, CheckpointError
from ledger.models import HEAD_ID, CheckpointRow, LogEntry, LogHead, Tile
from ledger.store import HASH_SIZE, TILE_HEIGHT, TILE_WIDTH

__all__ = ["AuditReport", "audit"]


@dataclass(frozen=True)
class AuditReport:
    """What a successful audit covered."""

    size: int
    root: bytes
    subjects: int
    checkpoints: int


class _TileCheck:
    """Compare each recomputed level-8·L hash with its stored tile as soon as it is made."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._current: dict[int, tuple[int, bytes, int]] = {}  # level -> (tile, stored, used)

    def add(self, level: int, index: int, digest: bytes) -> None:
        tile_level = level // TILE_HEIGHT
        tile_index, offset = divmod(index, TILE_WIDTH)
        current = self._current.get(tile_level)
        if current is None or current[0] != tile_index:
            if current is not None:
                self._check_no_extra(tile_level, *current)
            row = self._session.get(Tile, (tile_level, tile_index))
            current = (tile_index, row.hashes if row is not None else b"", 0)
        tile, stored, _ = current
        self._current[tile_level] = (tile, stored, offset + 1)
        if stored[offset * HASH_SIZE : (offset + 1) * HASH_SIZE] != digest:
            first_leaf = index << (tile_level * TILE_HEIGHT)
            raise AuditError(
                f"entry {first_leaf}: stored tree hash (tile {tile_level}/{tile_index}, "
                f"position {offset}) does not match the recomputed hash",
                index=first_leaf, code="ledger.audit.node_hash",
            )

    def finish(self) -> None:
        for tile_level, current in sorted(self._current.items()):
            self._check_no_extra(tile_level, *current)

    def _check_no_extra(self, tile_level: int, tile: int, stored: bytes, used: int) -> None:
        if len(stored) != used * HASH_SIZE:
            first_leaf = (tile * TILE_WIDTH + used) << (tile_level * TILE_HEIGHT)
            raise AuditError(
                f"entry {first_leaf}: tile {tile_level}/{tile} holds hashes beyond the log",
                index=first_leaf, code="ledger.audit.node_hash",
            )


def audit(
    session: Session, vkey: str, progress: Callable[[int], None] | None = None,
    batch: int = 10_000,
) -> AuditReport:
    """Recompute every hash, chain link and checkpoint of the log.

    :raises AuditError: naming the first entry index (``.index``) that does not match, and why.
    """
    head = session.get(LogHead, HEAD_ID)
    checkpoints = list(session.execute(
        select(CheckpointRow.size, CheckpointRow.root).order_by(CheckpointRow.size)))
    scan = _Scan(session, checkpoints)
    rows = session.execute(
        select(LogEntry.idx, LogEntry.leaf_hash, LogEntry.subject, LogEntry.kind, LogEntry.data)
        .order_by(LogEntry.idx).execution_options(yield_per=batch)
    )
    try:
        for row in rows:
            scan.entry(*row)
            if progress is not None and scan.count % batch == 0:
                progress(scan.count)
    finally:
        rows.close()  # a server-side cursor on PostgreSQL
    scan.tiles.finish()
    size = head.size if head else 0
    if scan.count != size:
        raise AuditError(f"entry {scan.count}: the head says {size} entries, {scan.count} are stored",
                         index=scan.count, code="ledger.audit.size")
    root = merkle.frontier_root(scan.frontier, scan.count)
    if head is not None:
        _check_head(head, scan.frontier, root, vkey)
    if scan.next_cp is not None:
        raise AuditError(f"checkpoint at size {scan.next_cp[0]} is beyond the log",
                         index=scan.count, code="ledger.audit.checkpoint_root")
    return AuditReport(size=scan.count, root=root, subjects=len(scan.chains),
                       checkpoints=len(checkpoints))


class _Scan:
    """The state of one pass over the entries in index order."""

    def __init__(self, session: Session, checkpoints: list[Any]) -> None:
        self.tiles = _TileCheck(session)
        self.chains: dict[str, bytes] = {}
        self.frontier: merkle.Frontier = ()
        self.count = 0
        self._pending = iter(checkpoints)
        self.next_cp = next(self._pending, None)

    def entry(self, idx: int, stored_leaf: bytes, subject: str, kind: str, data: bytes) -> None:
        if idx != self.count:
            raise AuditError(f"entry {self.count}: missing (next stored index is {idx})",
                             index=self.count, code="ledger.audit.gap")
        leaf = merkle.leaf_hash(data)
        if leaf != stored_leaf:
            raise AuditError(f"entry {idx}: entry bytes altered (leaf hash does not match)",
                             index=idx, code="ledger.audit.entry_bytes")
        _check_envelope(idx, data, subject, kind, self.chains.get(subject))
        self.chains[subject] = leaf
        self.frontier, self.count, nodes = merkle.append(self.frontier, self.count, [leaf])
        for level, index, digest in nodes:
            if level % TILE_HEIGHT == 0:
                self.tiles.add(level, index, digest)
        while self.next_cp is not None and self.next_cp[0] == self.count:
            if merkle.frontier_root(self.frontier, self.count) != self.next_cp[1]:
                raise AuditError(
                    f"entry {idx}: checkpoint at size {self.count} has another root",
                    index=idx, code="ledger.audit.checkpoint_root")
            self.next_cp = next(self._pending, None)


def _check_envelope(idx: int, data: bytes, subject: str, kind: str, prev: bytes | None) -> None:
    try:
        envelope = json.loads(data)
        their_prev = envelope["prev"]
        ok = envelope["subject"] == subject and envelope["kind"] == kind
    except (ValueError, KeyError, TypeError):
        raise AuditError(f"entry {idx}: not a well-formed envelope", index=idx,
                         code="ledger.audit.envelope") from None
    if not ok:
        raise AuditError(f"entry {idx}: subject or kind differs from its index row",
                         index=idx, code="ledger.audit.envelope")
    expected = base64.b64encode(prev).decode() if prev is not None else None
    if their_prev != expected:
        raise AuditError(
            f"entry {idx}: broken chain link: prev is {their_prev!r}, the previous entry "
            f"about {subject!r} has leaf hash {expected!r}", index=idx, code="ledger.audit.prev",
        )


def _check_head(head: LogHead, frontier: merkle.Frontier, root: bytes, vkey: str) -> None:
    last = head.size - 1
    if head.root != root or merkle.decode_frontier(head.frontier) != (frontier, head.size):
        raise AuditError(f"entry {last}: the head's root or compact range differs",
                         index=last, code="ledger.audit.head")
    if head.checkpoint is None:
        if head.size:
            raise AuditError(f"entry {last}: no signed checkpoint", index=last,
                             code="ledger.audit.signature")
        return
    try:
        verifier = note.NoteVerifier.from_vkey(vkey)
        text = note.verify_note(head.checkpoint, [verifier]).text
        checkpoint = note.parse_checkpoint(text)
    except CheckpointError as exc:
        raise AuditError(f"entry {last}: latest checkpoint: bad signature ({exc})",
                         index=last, code="ledger.audit.signature") from None
    if (checkpoint.origin, checkpoint.size, checkpoint.root_hash) != (
        head.origin, head.size, root,
    ):
        raise AuditError(f"entry {last}: latest checkpoint does not match the log",
                         index=last, code="ledger.audit.checkpoint_root")
