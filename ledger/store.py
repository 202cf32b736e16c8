"""Reads of the stored log: entries, tiles, nodes and O(log n) proofs.

Tiles follow C2SP tlog-tiles: tile level ``L`` index ``N`` holds the hashes of tree
level ``8·L`` with indexes ``256·N .. 256·N+255``.  Any perfect node (level ``l``,
index ``i``) is folded from at most 128 hashes of one tile, so a proof needs about
two tiles per tile level (three levels cover 16.7M entries), all by primary key; a
proof reads them in one query (``merkle.inclusion_path_nodes`` lists them beforehand).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from ledger import merkle
from ledger.errors import NotFound, ProofError
from ledger.models import HEAD_ID, CheckpointRow, LogEntry, LogHead, Tile

__all__ = [
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "LogState",
    "TileReader",
    "read_head",
    "get_entry",
    "entries_of",
    "inclusion_proof",
    "consistency_proof",
    "latest_checkpoint",
    "checkpoint_at",
]

TILE_HEIGHT = 8  # C2SP tlog-tiles: "tiles of height 8"
TILE_WIDTH = 1 << TILE_HEIGHT
HASH_SIZE = 32


@dataclass(frozen=True)
class LogState:
    """The log's size, root and latest signed checkpoint (a signed note), as read."""

    origin: str
    size: int
    root: bytes
    checkpoint: str | None


def read_head(session: Session) -> LogState:
    """Return the state of the log; an empty log when nothing was ever appended."""
    head = session.get(LogHead, HEAD_ID)
    if head is None:
        return LogState(origin="", size=0, root=merkle.EMPTY_ROOT, checkpoint=None)
    return LogState(head.origin, head.size, head.root, head.checkpoint)


def get_entry(session: Session, index: int) -> LogEntry:
    """Return the entry at ``index``.

    :raises NotFound: when no entry has that index.
    """
    entry = session.get(LogEntry, index)
    if entry is None:
        raise NotFound(f"no ledger entry at index {index}")
    return entry


def entries_of(session: Session, subject: str) -> list[LogEntry]:
    """Return every entry about ``subject``, oldest first (one index range scan)."""
    stmt = select(LogEntry).where(LogEntry.subject == subject).order_by(LogEntry.idx)
    return list(session.scalars(stmt))


_TILES = Tile.__table__


def tiles_matching(keys: Iterable[tuple[int, int]]) -> ColumnElement[bool]:
    """Return a WHERE clause for the tiles ``keys`` (tile level, tile index).

    Written as ``(level = ? AND idx IN (...)) OR ...`` so that the primary key is used:
    SQLite 3.40 answers a row-value ``(level, idx) IN (VALUES ...)`` with a scan of
    the whole table (1.8 ms at 1M entries, against 0.14 ms).
    """
    by_level: dict[int, set[int]] = {}
    for level, index in keys:
        by_level.setdefault(level, set()).add(index)
    return or_(*(and_(_TILES.c.level == level, _TILES.c.idx.in_(sorted(indexes)))
                 for level, indexes in sorted(by_level.items())))


def _tile_of(level: int, index: int) -> tuple[int, int]:
    """Return the tile (level, index) that holds perfect node (``level``, ``index``)."""
    tile_level, rest = divmod(level, TILE_HEIGHT)
    return tile_level, (index << rest) // TILE_WIDTH


class TileReader:
    """Serve perfect-node hashes from tile rows, reading each tile at most once.

    Rows are read through Core, not ``Session.get``: a Tile object kept in the session's
    identity map (sessions do not expire on commit) would be stale once the log grew.
    """

    def __init__(self, session: Session) -> None:
        self._session = session
        self._tiles: dict[tuple[int, int], bytes] = {}

    def prefetch(self, nodes: Iterable[tuple[int, int]]) -> None:
        """Read the tiles holding the perfect ``nodes`` (level, index) in one query."""
        wanted = dict.fromkeys(_tile_of(level, index) for level, index in nodes)
        keys = [key for key in wanted if key not in self._tiles]
        if not keys:
            return
        rows = self._session.connection().execute(
            select(_TILES.c.level, _TILES.c.idx, _TILES.c.hashes).where(tiles_matching(keys)))
        found = {(level, idx): hashes for level, idx, hashes in rows}
        for key in keys:
            self._tiles[key] = found.get(key, b"")

    def tile(self, level: int, index: int) -> bytes:
        """Return the stored hashes of tile (``level``, ``index``), possibly partial."""
        key = (level, index)
        if key not in self._tiles:
            hashes = self._session.connection().execute(
                select(_TILES.c.hashes).where(_TILES.c.level == level, _TILES.c.idx == index)
            ).scalar()
            self._tiles[key] = hashes if hashes is not None else b""
        return self._tiles[key]

    def node(self, level: int, index: int) -> bytes:
        """Return the hash of the perfect subtree at tree ``level`` and ``index``.

        :raises ProofError: when the tiles do not hold that node (a damaged store).
        """
        tile_level, rest = divmod(level, TILE_HEIGHT)
        first = index << rest  # index of the subtree's first hash at level 8·tile_level
        tile_index, offset = divmod(first, TILE_WIDTH)
        data = self.tile(tile_level, tile_index)
        count = 1 << rest
        end = (offset + count) * HASH_SIZE
        if len(data) < end:
            raise ProofError(f"tile {tile_level}/{tile_index} lacks node {level}/{index}")
        hashes = [data[i : i + HASH_SIZE] for i in range(offset * HASH_SIZE, end, HASH_SIZE)]
        return merkle.root_hash(hashes)

    def leaf_hashes(self, start: int, end: int) -> Iterator[bytes]:
        """Yield the leaf hashes ``start .. end-1`` from level-0 tiles."""
        for index in range(start, end):
            tile_index, offset = divmod(index, TILE_WIDTH)
            data = self.tile(0, tile_index)
            yield data[offset * HASH_SIZE : (offset + 1) * HASH_SIZE]


def _check_size(session: Session, size: int) -> None:
    current = read_head(session).size
    if size > current:
        raise ProofError(f"tree size {size} is beyond the log's size {current}")


def inclusion_proof(session: Session, index: int, size: int) -> list[bytes]:
    """Return the RFC 9162 §2.1.3.1 inclusion path of leaf ``index`` in the tree of ``size``.

    :raises ProofError: when ``index >= size`` or ``size`` is beyond the log.
    """
    if index < 0 or size < 0 or index >= size:
        raise ProofError(f"index {index} is not below tree size {size}")
    _check_size(session, size)
    reader = TileReader(session)
    reader.prefetch(merkle.inclusion_path_nodes(index, size))  # one query for all the tiles
    return merkle.inclusion_path(index, size, reader.node)


def consistency_proof(session: Session, first: int, second: int) -> list[bytes]:
    """Return the RFC 9162 §2.1.4.1 consistency path between tree sizes ``first`` and ``second``.

    :raises ProofError: when ``first > second`` or either size is beyond the log.
    """
    if first < 0 or second < 0 or first > second:
        raise ProofError(f"first size {first} must not exceed second size {second}")
    _check_size(session, second)
    if first == 0 or first == second:
        return []
    reader = TileReader(session)
    reader.prefetch(merkle.consistency_path_nodes(first, second))  # one query for all the tiles
    return merkle.consistency_path(first, second, reader.node)


def root_at(session: Session, size: int) -> bytes:
    """Return the root hash of the tree of ``size`` (any size up to the log's)."""
    _check_size(session, size)
    if not size:
        return merkle.EMPTY_ROOT
    reader = TileReader(session)
    reader.prefetch(merkle.perfect_subtrees(0, size))
    return merkle.subtree_hash(0, size, reader.node)


def latest_checkpoint(session: Session) -> str:
    """Return the latest signed checkpoint note.

    :raises NotFound: when the log has signed none yet.
    """
    note = read_head(session).checkpoint
    if note is None:
        raise NotFound("the log has not signed a checkpoint yet")
    return note


def checkpoint_at(session: Session, size: int) -> CheckpointRow:
    """Return the checkpoint the log signed at tree ``size``.

    :raises NotFound: when none was signed at that size.
    """
    row = session.get(CheckpointRow, size)
    if row is None:
        raise NotFound(f"no checkpoint was signed at tree size {size}")
    return row


def hashes_of(tile: bytes) -> Sequence[bytes]:
    """Split a tile's bytes into its 32-byte hashes."""
    return [tile[i : i + HASH_SIZE] for i in range(0, len(tile), HASH_SIZE)]
