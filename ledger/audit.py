"""Recompute the whole log from its entry bytes and name the first thing that does not match.

The audit reads every entry in index order and checks, in one pass:
1. the stored leaf hash equals SHA-256(0x00 || entry bytes)        (altered entry bytes)
2. the entry is a well-formed envelope about the row's subject and kind
3. ``prev`` names the previous entry about the same subject          (broken chain link)
4. every stored tile hash equals the recomputed tree node            (altered node hash)
5. every stored checkpoint's root equals the recomputed root at its size
6. the head (size, root, compact range) equals the recomputation
7. the latest checkpoint is signed by the log's key and matches the head

The error names the entry where the first of these checks fails, in the order a
leaf-by-leaf pass meets them (for each entry: 1, 2, 3, then 4 for its leaf and the
tree nodes it completes, then 5).  For speed the level-0 tile check (4 for leaves)
compares 256 leaf hashes at once; when any other check fails first, the leaves
already passed are compared before the error is raised, so the reported entry is
the same as with a per-leaf comparison.

Checks 2 and 3 compare bytes: RFC 8785 sorts the keys, so an entry written by
``ledger.entry.make_entry`` ends with ``,"kind":K,"prev":P,"subject":S,"time":"T","v":1}``
and the audit compares that suffix with what the row and the chain say.  It parses
the entry (json.loads) only when those bytes differ, to name the problem; the rest
of the entry (actor, body) is covered by checks 1 and 4, not parsed again.

A large log is audited by two processes when a core is idle (``_audit_split``): this
one checks the entries ``[0, m)`` while a second one checks ``[m, size)``, starting
from the compact range of ``[0, m)`` as the stored tiles give it and recording the
``prev`` of the first entry of each subject it meets.  This process then checks that
the compact range it recomputed is the one the other started from, and that each
recorded ``prev`` is the leaf hash of the last entry about that subject before ``m``:
then both halves computed exactly what one pass computes.  If anything differs, or
either half finds a problem, the log is audited again in one pass, which names the
first problem as above.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import multiprocessing
import os
import threading
from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, create_engine, event, select
from sqlalchemy.orm import Session

from ledger import merkle, note
from ledger.errors import AuditError, CheckpointError, ProofError
from ledger.models import HEAD_ID, CheckpointRow, LogEntry, LogHead, Tile
from ledger.store import HASH_SIZE, TILE_HEIGHT, TILE_WIDTH, TileReader

__all__ = ["AuditReport", "audit"]

_ENTRIES = LogEntry.__table__
_TILES = Tile.__table__
_HEAD = LogHead.__table__
_PREFETCH = 64  # tiles of one level read per query (64 level-0 tiles: 16,384 leaves)
_TILE_BYTES = TILE_WIDTH * HASH_SIZE
# From this size on, audit() uses two processes when a second core is idle: below it,
# starting the second process costs about as much as it saves.
PARALLEL_MIN_SIZE = 200_000
_WORKER_TIMEOUT = 3600.0  # seconds to wait for the second process once this half is done


@dataclass(frozen=True)
class AuditReport:
    """What a successful audit covered."""

    size: int
    root: bytes
    subjects: int
    checkpoints: int


def _node_error(tile_level: int, tile: int, offset: int) -> AuditError:
    index = tile * TILE_WIDTH + offset
    first_leaf = index << (tile_level * TILE_HEIGHT)
    return AuditError(
        f"entry {first_leaf}: stored tree hash (tile {tile_level}/{tile}, "
        f"position {offset}) does not match the recomputed hash",
        index=first_leaf, code="ledger.audit.node_hash",
    )


def _extra_error(tile_level: int, tile: int, used: int) -> AuditError:
    first_leaf = (tile * TILE_WIDTH + used) << (tile_level * TILE_HEIGHT)
    return AuditError(f"entry {first_leaf}: tile {tile_level}/{tile} holds hashes beyond the log",
                      index=first_leaf, code="ledger.audit.node_hash")


class _TileCheck:
    """Compare the recomputed level-8·L hashes with the stored tiles.

    Tiles are read ``_PREFETCH`` at a time per level.  Level-0 (leaf) hashes are
    collected and compared a whole tile at a time (``check_leaves``); the rare higher
    nodes are compared one by one as soon as they are made (``node``).
    """

    def __init__(self, conn: Connection, first_leaf: int = 0) -> None:
        self._conn = conn
        self._cache: dict[int, dict[int, bytes]] = {}  # tile level -> {tile index: hashes}
        self.current: dict[int, tuple[int, bytes, int]] = {}  # level -> (tile, stored, used)
        self.first_tiles: dict[int, int] = {}  # level -> first tile a node was checked in
        self.leaves: list[bytes] = []  # leaf hashes of level-0 tile ``leaf_tile`` not compared
        self.leaf_tile = first_leaf // TILE_WIDTH
        self.leaf_stored = self._stored(0, self.leaf_tile)

    def _stored(self, tile_level: int, tile: int) -> bytes:
        cache = self._cache.get(tile_level)
        if cache is None or tile not in cache:
            rows = self._conn.execute(
                select(_TILES.c.idx, _TILES.c.hashes)
                .where(_TILES.c.level == tile_level, _TILES.c.idx >= tile,
                       _TILES.c.idx < tile + _PREFETCH))
            cache = self._cache[tile_level] = {i: b"" for i in range(tile, tile + _PREFETCH)}
            for index, hashes in rows:
                cache[index] = hashes
        return cache.pop(tile)

    def check_leaves(self) -> None:
        """Compare the collected leaf hashes with the stored level-0 tile."""
        stored, leaves = self.leaf_stored, self.leaves
        if not stored.startswith(b"".join(leaves)):
            for offset, leaf in enumerate(leaves):
                if stored[offset * HASH_SIZE : (offset + 1) * HASH_SIZE] != leaf:
                    raise _node_error(0, self.leaf_tile, offset)

    def next_leaf_tile(self) -> None:
        """Finish the full level-0 tile and start the next one (at leaf 256·k)."""
        self.check_leaves()
        if len(self.leaf_stored) != _TILE_BYTES:
            raise _extra_error(0, self.leaf_tile, TILE_WIDTH)
        self.leaf_tile += 1
        self.leaves = []
        self.leaf_stored = self._stored(0, self.leaf_tile)

    def node(self, level: int, index: int, digest: bytes) -> None:
        """Compare one recomputed node of tree level 8·L (L >= 1) with its tile."""
        tile_level = level // TILE_HEIGHT
        tile_index, offset = divmod(index, TILE_WIDTH)
        current = self.current.get(tile_level)
        if current is None or current[0] != tile_index:
            if current is not None:
                self._check_no_extra(tile_level, *current)
            else:
                self.first_tiles[tile_level] = tile_index
            current = (tile_index, self._stored(tile_level, tile_index), 0)
        tile, stored, _ = current
        self.current[tile_level] = (tile, stored, offset + 1)
        if stored[offset * HASH_SIZE : (offset + 1) * HASH_SIZE] != digest:
            raise _node_error(tile_level, tile_index, offset)

    def finish(self) -> None:
        """At the end of the log: compare the last leaves; no tile may hold more hashes."""
        self.check_leaves()
        if len(self.leaf_stored) != len(self.leaves) * HASH_SIZE:
            raise _extra_error(0, self.leaf_tile, len(self.leaves))
        for tile_level, current in sorted(self.current.items()):
            self._check_no_extra(tile_level, *current)

    def _check_no_extra(self, tile_level: int, tile: int, stored: bytes, used: int) -> None:
        if len(stored) != used * HASH_SIZE:
            raise _extra_error(tile_level, tile, used)


class _Scan:
    """The state of one pass over the entries ``[start, …)`` in index order.

    ``stack`` is the compact range ``[0, start)`` to continue from.  A scan that starts
    after 0 does not know the chains before it: for the first entry about each subject
    it records the entry's ``prev`` in ``first_seen`` (subject -> prev as the entry
    writes it) instead of checking it.
    """

    def __init__(self, conn: Connection, checkpoints: list[Any], start: int = 0,
                 stack: Iterable[bytes] = ()) -> None:
        self.tiles = _TileCheck(conn, start)
        self.chains: dict[str, bytes] = {}  # subject -> leaf hash of its last entry
        self.first_seen: dict[str, Any] | None = {} if start else None
        self._subjects: dict[str, bytes] = {}  # subject -> its JSON string, as bytes
        self._kinds: dict[str, bytes] = {}
        self.stack: list[bytes] = list(stack)  # the compact range [0, count), largest first
        self.count = start
        self._pending = iter(checkpoints)
        self.next_cp = next(self._pending, None)

    def run(self, rows: Iterable[Any]) -> None:
        """Check a run of rows in index order (the hot loop: everything is local)."""
        sha256 = hashlib.sha256
        b64 = binascii.b2a_base64
        chains, subjects, kinds = self.chains, self._subjects, self._kinds
        first_seen = self.first_seen
        stack, tiles = self.stack, self.tiles
        leaves = tiles.leaves
        count = self.count
        next_cp = self.next_cp[0] if self.next_cp is not None else -1
        try:
            for idx, stored_leaf, subject, kind, data in rows:
                if idx != count:
                    raise AuditError(f"entry {count}: missing (next stored index is {idx})",
                                     index=count, code="ledger.audit.gap")
                leaf = sha256(b"\x00" + data).digest()
                if leaf != stored_leaf:
                    raise AuditError(f"entry {idx}: entry bytes altered (leaf hash does not match)",
                                     index=idx, code="ledger.audit.entry_bytes")
                # 2, 3: RFC 8785 sorts the keys, so the entry ends with
                # ,"kind":K,"prev":P,"subject":S,"time":"…","v":1}   A byte comparison;
                # json.loads only when that fails, to name the problem.
                prev = chains.get(subject)
                s = subjects.get(subject)
                if s is None:
                    s = subjects[subject] = _json_str(subject)
                k = kinds.get(kind)
                if k is None:
                    k = kinds[kind] = _json_str(kind)
                if prev is None and first_seen is not None:
                    first_seen[subject] = _first_prev(idx, data, subject, kind, s, k)
                else:
                    suffix = b',"kind":%s,"prev":%s,"subject":%s,"time":"' % (
                        k, b"null" if prev is None else b'"%s"' % b64(prev, newline=False), s)
                    at = data.rfind(b'"', 0, len(data) - 8) + 1 - len(suffix)
                    if not (data.endswith(b'","v":1}') and at > 0 and data.startswith(suffix, at)):
                        _check_envelope(idx, data, subject, kind, prev)
                chains[subject] = leaf
                # 4: append the leaf to the compact range; check the level-0 tile per 256
                if not count & 0xFF and leaves:
                    tiles.next_leaf_tile()
                    leaves = tiles.leaves
                leaves.append(leaf)
                level, acc, n = 0, leaf, count
                while n & 1:
                    acc = sha256(b"\x01" + stack.pop() + acc).digest()
                    level += 1
                    n >>= 1
                    if not level & 7:
                        tiles.node(level, count >> level, acc)
                stack.append(acc)
                count += 1
                # 5: a checkpoint signed at this size must have this root
                if count == next_cp:
                    self.count = count
                    self._check_checkpoints(idx)
                    next_cp = self.next_cp[0] if self.next_cp is not None else -1
        finally:
            self.count = count

    def _check_checkpoints(self, idx: int) -> None:
        root = merkle.frontier_root(tuple(self.stack), self.count)
        while self.next_cp is not None and self.next_cp[0] == self.count:
            if root != self.next_cp[1]:
                raise AuditError(
                    f"entry {idx}: checkpoint at size {self.count} has another root",
                    index=idx, code="ledger.audit.checkpoint_root")
            self.next_cp = next(self._pending, None)


def _json_str(text: str) -> bytes:
    """Return ``text`` as an RFC 8785 JSON string; a lone surrogate gives a value no
    entry holds (0xFF is never in UTF-8), so that _check_envelope names the problem."""
    try:
        return json.dumps(text, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return b"\xff"


def _first_prev(idx: int, data: bytes, subject: str, kind: str, s: bytes, k: bytes) -> Any:
    """Return the ``prev`` of an entry whose chain began before this scan, unchecked."""
    rest = b',"subject":%s,"time":"' % s
    at = data.rfind(b'"', 0, len(data) - 8) + 1 - len(rest)
    if data.endswith(b'","v":1}') and at > 0 and data.startswith(rest, at):
        head = b',"kind":%s' % k
        if data.startswith(b',"prev":null', at - 12):
            if at - 12 > len(head) and data.startswith(head, at - 12 - len(head)):
                return None
        elif data.startswith(b',"prev":"', at - 54) and data[at - 1] == 0x22:
            if at - 54 > len(head) and data.startswith(head, at - 54 - len(head)):
                return data[at - 45 : at - 1].decode("ascii", "replace")
    return _envelope_prev(idx, data, subject, kind)


def _envelope_prev(idx: int, data: bytes, subject: str, kind: str) -> Any:
    """Parse the envelope, check its subject and kind, return its ``prev`` as written."""
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
    return their_prev


def _check_envelope(idx: int, data: bytes, subject: str, kind: str, prev: bytes | None) -> None:
    """The slow path, for entries that do not end as expected: name what is wrong."""
    their_prev = _envelope_prev(idx, data, subject, kind)
    expected = base64.b64encode(prev).decode() if prev is not None else None
    if their_prev != expected:
        raise AuditError(
            f"entry {idx}: broken chain link: prev is {their_prev!r}, the previous entry "
            f"about {subject!r} has leaf hash {expected!r}", index=idx, code="ledger.audit.prev",
        )


_ROWS_SQL = "SELECT idx, leaf_hash, subject, kind, data FROM ledger_entries{where} ORDER BY idx"


def _raw_rows(conn: Connection, start: int, stop: int | None,
              batch: int) -> Generator[Sequence[Any], None, None]:
    """Yield the rows ``[start, stop)`` in index order, ``batch`` at a time, as plain tuples.

    Straight from the driver's cursor (on the session's connection, so in its
    transaction): SQLAlchemy's Row objects cost about as much as the checks of a row.
    PostgreSQL (psycopg) streams through a server-side cursor; other drivers go
    through SQLAlchemy.
    """
    driver = conn.connection.driver_connection
    assert driver is not None  # None only once the connection is closed or invalidated
    name = conn.dialect.name
    if name == "sqlite" or (name == "postgresql" and conn.dialect.driver == "psycopg"):
        mark = "?" if name == "sqlite" else "%s"
        conditions, params = [], []
        if start:  # from 0: no lower bound, so that a negative index is seen (as a gap)
            conditions.append(f"idx >= {mark}")
            params.append(start)
        if stop is not None:
            conditions.append(f"idx < {mark}")
            params.append(stop)
        sql = _ROWS_SQL.format(where=f" WHERE {' AND '.join(conditions)}" if conditions else "")
        cursor = driver.cursor() if name == "sqlite" else driver.cursor(name="ledger_audit")
        try:
            cursor.execute(sql, params)
            while rows := cursor.fetchmany(batch):
                yield rows
        finally:
            cursor.close()
        return
    stmt = (select(_ENTRIES.c.idx, _ENTRIES.c.leaf_hash, _ENTRIES.c.subject, _ENTRIES.c.kind,
                   _ENTRIES.c.data)
            .order_by(_ENTRIES.c.idx).execution_options(yield_per=batch))
    if start:
        stmt = stmt.where(_ENTRIES.c.idx >= start)
    if stop is not None:
        stmt = stmt.where(_ENTRIES.c.idx < stop)
    result = conn.execute(stmt)
    try:
        yield from result.partitions(batch)
    finally:
        result.close()


def _scan_rows(conn: Connection, scan: _Scan, stop: int | None, batch: int,
               progress: Callable[[int], None] | None) -> None:
    """Run ``scan`` over the stored entries from its start (up to ``stop``, if given)."""
    chunks = _raw_rows(conn, scan.count, stop, batch)
    try:
        try:
            for chunk in chunks:
                scan.run(chunk)
                if progress is not None:
                    progress(scan.count)
        except AuditError:
            # A check that a per-leaf pass would meet later than a leaf tile hash that
            # already differs must not hide it: compare the leaves collected so far.
            scan.tiles.check_leaves()
            raise
    finally:
        chunks.close()  # closes the cursor (a server-side one on PostgreSQL)


def audit(
    session: Session, vkey: str, progress: Callable[[int], None] | None = None,
    batch: int = 10_000, workers: int | None = None,
) -> AuditReport:
    """Recompute every hash, chain link and checkpoint of the log.

    ``workers``: 1 for one pass in this process, 2 to split the work with a second
    process; by default 2 for logs of PARALLEL_MIN_SIZE entries or more when a second
    core is idle (see _second_core_idle).  ``progress`` is called with the number of
    entries this process has checked.

    :raises AuditError: naming the first entry index (``.index``) that does not match, and why.
    """
    # Core reads: no ORM objects per row, and nothing stale from the session's identity map.
    conn = session.connection()
    head = conn.execute(select(_HEAD).where(_HEAD.c.id == HEAD_ID)).first()
    checkpoints = [tuple(cp) for cp in conn.execute(
        select(CheckpointRow.size, CheckpointRow.root).order_by(CheckpointRow.size))]
    size = head.size if head is not None else 0
    if workers is None:
        workers = 2 if size >= PARALLEL_MIN_SIZE and _second_core_idle() else 1
    if workers > 1 and size >= 2 * TILE_WIDTH:
        report = _audit_split(session, conn, head, checkpoints, vkey, progress, batch)
        if report is not None:
            return report
        # Something differs: one pass names the first problem.
    scan = _Scan(conn, checkpoints)
    _scan_rows(conn, scan, None, batch, progress)
    scan.tiles.finish()
    return _report(head, scan.count, tuple(scan.stack), scan.next_cp, vkey,
                   len(scan.chains), len(checkpoints))


def _report(head: Any, count: int, frontier: merkle.Frontier, next_cp: Any, vkey: str,
            subjects: int, checkpoints: int) -> AuditReport:
    """Check the size, head, signature and leftover checkpoints after the last entry."""
    size = head.size if head is not None else 0
    if count != size:
        raise AuditError(f"entry {count}: the head says {size} entries, {count} are stored",
                         index=count, code="ledger.audit.size")
    root = merkle.frontier_root(frontier, count)
    if head is not None:
        _check_head(head, frontier, root, vkey)
    if next_cp is not None:
        raise AuditError(f"checkpoint at size {next_cp[0]} is beyond the log",
                         index=count, code="ledger.audit.checkpoint_root")
    return AuditReport(size=count, root=root, subjects=subjects, checkpoints=checkpoints)


def _second_core_idle() -> bool:
    """Return True when the machine has a core to spare (load average below cores - 0.5).

    A second process pays off only then: on a busy machine both processes share what
    one would get (Linux's autogroup scheduling shares CPU time between sessions, not
    processes), and the split adds some work.  Measured on 2 shared cores, 200k
    entries: 335k/s in two processes against 210k/s in one while a core was free;
    84k/s against 135k/s at load 8.
    """
    cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except OSError:  # not available on this platform
        return False
    return cores >= 2 and load < cores - 0.5


def _split_point(size: int, head_start: int) -> int:
    """Return where the second process starts: past the middle by half of what this one
    checks while the second one starts (``head_start`` entries), on a multiple of 256."""
    middle = min((size + head_start) // 2, size - 1)
    return max(middle // TILE_WIDTH * TILE_WIDTH, TILE_WIDTH)


def _audit_split(session: Session, conn: Connection, head: Any, checkpoints: list[Any],
                 vkey: str, progress: Callable[[int], None] | None,
                 batch: int) -> AuditReport | None:
    """Audit ``[0, m)`` here and ``[m, size)`` in a second process; None if anything
    differs or fails (the caller then audits in one pass, which names the problem)."""
    url = conn.engine.url  # the database being audited (session.connection())
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        return None
    # fork starts at once; a process with other threads spawns (forking it is unsafe),
    # which costs an interpreter start and the imports (0.3-2 s, some 150,000 entries).
    fork = threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods()
    middle = _split_point(head.size, 20_000 if fork else 150_000)
    reader = TileReader(session)
    try:
        reader.prefetch(merkle.perfect_subtrees(0, middle))
        assumed = merkle.frontier_for_size(middle, reader.node)
    except ProofError:
        return None
    later = [cp for cp in checkpoints if cp[0] > middle]
    ctx = multiprocessing.get_context("fork") if fork else multiprocessing.get_context("spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    worker = ctx.Process(
        target=_audit_worker, daemon=True, name="ledger-audit",
        args=(url.render_as_string(hide_password=False), middle, assumed, later, batch, sender),
    )
    try:
        worker.start()
    except Exception:  # e.g. inside a daemon process, which may not have children
        receiver.close()
        return None
    finally:
        sender.close()
    result: dict[str, Any] | None = None
    try:
        scan = _Scan(conn, [cp for cp in checkpoints if cp[0] <= middle])
        _scan_rows(conn, scan, middle, batch, progress)
        scan.tiles.check_leaves()
        if receiver.poll(_WORKER_TIMEOUT):
            result = receiver.recv()
    except (AuditError, EOFError, OSError):
        result = None
    finally:
        receiver.close()
        if worker.is_alive():
            worker.terminate()
        worker.join()
    if not result or "error" in result or result["head"] != (head.size, head.root):
        return None
    # The second half started from `assumed` and from unknown chains: check both.
    if scan.count != middle or tuple(scan.stack) != assumed or scan.next_cp is not None:
        return None
    if len(scan.tiles.leaves) != TILE_WIDTH or not _complete_tiles_exact(scan, result):
        return None
    chains = scan.chains
    b64 = base64.b64encode
    for subject, their_prev in result["first_seen"].items():
        leaf = chains.get(subject)
        if their_prev != (b64(leaf).decode() if leaf is not None else None):
            return None
    subjects = len(chains) + sum(1 for s in result["first_seen"] if s not in chains)
    try:
        return _report(head, result["count"], result["stack"], result["next_cp"], vkey,
                       subjects, len(checkpoints))
    except AuditError:
        return None


def _complete_tiles_exact(scan: _Scan, result: dict[str, Any]) -> bool:
    """The tiles where the first half's nodes end must hold nothing more, unless the
    second half continued them (it checks those to their end)."""
    if len(scan.tiles.leaf_stored) != _TILE_BYTES:
        return False
    for tile_level, (tile, stored, used) in scan.tiles.current.items():
        if result["first_tiles"].get(tile_level) != tile and len(stored) != used * HASH_SIZE:
            return False
    return True


def _reader_engine(url: str) -> Any:
    """An engine whose connections read one consistent snapshot per transaction."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN")

        return engine
    return create_engine(url, isolation_level="REPEATABLE READ")


def _audit_worker(url: str, start: int, stack: tuple[bytes, ...], checkpoints: list[Any],
                  batch: int, out: Any) -> None:
    """The second process of _audit_split: scan ``[start, …)`` and send back the state."""
    result: dict[str, Any]
    try:
        engine = _reader_engine(url)
        try:
            with engine.connect() as conn:
                head = conn.execute(select(_HEAD.c.size, _HEAD.c.root)
                                    .where(_HEAD.c.id == HEAD_ID)).first()
                scan = _Scan(conn, checkpoints, start, stack)
                _scan_rows(conn, scan, None, batch, None)
                scan.tiles.finish()
                result = {"head": tuple(head) if head is not None else None,
                          "count": scan.count, "stack": tuple(scan.stack),
                          "next_cp": scan.next_cp, "first_seen": scan.first_seen,
                          "first_tiles": scan.tiles.first_tiles}
        finally:
            engine.dispose()
    except BaseException as exc:  # reported, not raised: this process audits in one pass
        result = {"error": f"{type(exc).__name__}: {exc}"}
    out.send(result)
    out.close()


def _check_head(head: Any, frontier: merkle.Frontier, root: bytes, vkey: str) -> None:
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
