"""Merkle Tree Hash, audit paths, consistency proofs and compact ranges (RFC 9162 §2.1).

Pure functions over bytes and ints: nothing here reads a database, a file or the
clock.  Storage is reached only through a ``get_node(level, index)`` callback that
returns the hash of the *perfect* subtree covering leaves
``[index * 2**level, (index + 1) * 2**level)``.  Perfect nodes never change once the
log has grown past them, so storage can keep them as immutable rows (or tiles);
the hashes of the non-perfect subtrees on the right edge of a tree are folded here
from at most ``log2(n)`` perfect nodes.

Terminology follows transparency-dev/merkle ``docs/compact_ranges.md``: a *compact
range* ``[start, end)`` is the minimal list of perfect nodes covering exactly those
leaves; the *frontier* of a tree of size ``n`` is the compact range ``[0, n)``
(at most 64 hashes), enough to append leaves and compute the root without reading
anything else.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

from ledger.errors import ProofError

__all__ = [
    "HASH_SIZE",
    "LEAF_PREFIX",
    "NODE_PREFIX",
    "EMPTY_ROOT",
    "MAX_TREE_SIZE",
    "BAD_PROOF_REQUEST",
    "GetNode",
    "Frontier",
    "Node",
    "leaf_hash",
    "node_hash",
    "root_hash",
    "perfect_subtrees",
    "subtree_hash",
    "inclusion_path",
    "consistency_path",
    "inclusion_path_nodes",
    "consistency_path_nodes",
    "root_from_inclusion_proof",
    "verify_inclusion",
    "verify_consistency",
    "append",
    "frontier_root",
    "frontier_for_size",
    "encode_frontier",
    "decode_frontier",
]

# RFC 9162 §2.1: the log's hash algorithm is SHA-256, so every node is 32 bytes.
HASH_SIZE = 32
# RFC 9162 §2.1.1: domain separation of leaves (0x00) and interior nodes (0x01).
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
# RFC 9162 §2.1.1: MTH({}) = SHA-256() for the empty tree.
EMPTY_ROOT = hashlib.sha256(b"").digest()
# RFC 9162 §2.1 (tree_size is a uint64); also bounds a frontier to 64 hashes.
MAX_TREE_SIZE = 2**64 - 1
# Error code for a proof *request* that cannot be served (bad sizes or indices),
# as opposed to ProofError's default "ledger.bad_proof" for a proof that fails.
BAD_PROOF_REQUEST = "ledger.bad_proof_request"
# Version marker of the encoded frontier (encode_frontier / decode_frontier).
_FRONTIER_VERSION = 1

GetNode = Callable[[int, int], bytes]
"""``get_node(level, index)``: hash of the perfect subtree over leaves
``[index << level, (index + 1) << level)``; level 0 returns leaf hashes."""

Frontier = tuple[bytes, ...]
"""Roots of the perfect subtrees of the compact range ``[0, size)``, largest
(leftmost) first; one hash per set bit of ``size``."""


class Node(NamedTuple):
    """A perfect node: ``hash`` of leaves ``[idx << level, (idx + 1) << level)``."""

    level: int
    idx: int  # not "index", which would shadow tuple.index
    hash: bytes


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def leaf_hash(entry: bytes) -> bytes:
    """Return the leaf hash SHA-256(0x00 || entry) (RFC 9162 §2.1.1)."""
    return _sha256(LEAF_PREFIX + entry)


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the interior node hash SHA-256(0x01 || left || right) (RFC 9162 §2.1.1)."""
    return _sha256(NODE_PREFIX + left + right)


def _check_hash(value: bytes, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        got = len(value) if isinstance(value, (bytes, bytearray)) else type(value).__name__
        raise ProofError(f"{what} must be {HASH_SIZE} bytes, got {got}")


def _check_size(value: int, what: str, code: str) -> None:
    if type(value) is not int or not 0 <= value <= MAX_TREE_SIZE:
        raise ProofError(f"{what} must be an integer in [0, 2**64), got {value!r}", code=code)


def root_hash(leaf_hashes: Sequence[bytes]) -> bytes:
    """Return MTH(D[n]) of the given leaf hashes (RFC 9162 §2.1.1).

    Hashes level by level, promoting an unpaired last node unchanged, which
    builds the same left-balanced tree as the recursive definition.

    :raises ProofError: if a leaf hash is not 32 bytes.
    """
    level = list(leaf_hashes)
    if not level:
        return EMPTY_ROOT
    for i, h in enumerate(level):
        _check_hash(h, f"leaf hash {i}")
    sha, prefix = hashlib.sha256, NODE_PREFIX
    while len(level) > 1:
        paired = [sha(prefix + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def perfect_subtrees(start: int, end: int) -> list[tuple[int, int]]:
    """Decompose leaves ``[start, end)`` into its compact range of perfect nodes.

    Returns ``(level, index)`` pairs from left to right (transparency-dev/merkle
    ``docs/compact_ranges.md``; the building blocks of RFC 9162 §2.1.3.1/§2.1.4.1).

    :raises ProofError: if the range is empty-negative or out of bounds.
    """
    _check_size(start, "start", BAD_PROOF_REQUEST)
    _check_size(end, "end", BAD_PROOF_REQUEST)
    if start > end:
        raise ProofError(f"range start {start} > end {end}", code=BAD_PROOF_REQUEST)
    nodes: list[tuple[int, int]] = []
    while start < end:
        # The largest block aligned at `start` that still fits before `end`.
        level = (end - start).bit_length() - 1
        if start:
            level = min(level, (start & -start).bit_length() - 1)
        nodes.append((level, start >> level))
        start += 1 << level
    return nodes


def _fetch(get_node: GetNode, level: int, index: int) -> bytes:
    value = get_node(level, index)
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise ProofError(f"get_node({level}, {index}) did not return a {HASH_SIZE}-byte hash")
    return value


def subtree_hash(start: int, end: int, get_node: GetNode) -> bytes:
    """Return MTH(D[start:end]) for a subtree of the log (RFC 9162 §2.1.1).

    The range must be a node of some tree: non-empty, with ``start`` a multiple
    of the smallest power of two >= ``end - start``.  That holds for every
    subtree named by RFC 9162 §2.1.3.1 and §2.1.4.1 (perfect nodes, and right-edge
    ranges ``[start, size)``).  The right edge is folded right to left from its
    perfect nodes, so storage serves only ``(level, index)`` point reads.

    :raises ProofError: if the range is not a subtree, or get_node misbehaves.
    """
    if start >= end:
        raise ProofError(f"empty subtree [{start}, {end})", code=BAD_PROOF_REQUEST)
    width = 1 << (end - start - 1).bit_length()
    if start % width:
        raise ProofError(f"[{start}, {end}) is not a subtree", code=BAD_PROOF_REQUEST)
    nodes = perfect_subtrees(start, end)
    acc = _fetch(get_node, *nodes[-1])
    for level, index in reversed(nodes[:-1]):
        acc = node_hash(_fetch(get_node, level, index), acc)
    return acc


def inclusion_path(index: int, size: int, get_node: GetNode) -> list[bytes]:
    """Return PATH(index, D[size]), the audit path of a leaf (RFC 9162 §2.1.3.1).

    Siblings are listed from the leaf up.  Costs one get_node call per level,
    plus at most ``log2(size)`` for the one right-edge sibling that is not
    perfect.

    :raises ProofError: (code ``ledger.bad_proof_request``) if index >= size.
    """
    _check_size(index, "index", BAD_PROOF_REQUEST)
    _check_size(size, "size", BAD_PROOF_REQUEST)
    if index >= size:
        raise ProofError(f"index {index} >= size {size}", code=BAD_PROOF_REQUEST)
    path: list[bytes] = []
    level = 0
    while (1 << level) < size:
        sibling = (index >> level) ^ 1
        first = sibling << level
        if first < size:  # else this node has no sibling and is promoted as is
            path.append(subtree_hash(first, min(first + (1 << level), size), get_node))
        level += 1
    return path


def _subproof(m: int, start: int, end: int, complete: bool, get_node: GetNode) -> list[bytes]:
    """Return SUBPROOF(m, D[start:end], complete) (RFC 9162 §2.1.4.1)."""
    n = end - start
    if m == n:
        return [] if complete else [subtree_hash(start, end, get_node)]
    k = 1 << ((n - 1).bit_length() - 1)  # largest power of two < n
    if m <= k:
        return _subproof(m, start, start + k, complete, get_node) + [
            subtree_hash(start + k, end, get_node)
        ]
    return _subproof(m - k, start + k, end, False, get_node) + [
        subtree_hash(start, start + k, get_node)
    ]


def consistency_path(first: int, second: int, get_node: GetNode) -> list[bytes]:
    """Return PROOF(first, D[second]), a consistency proof (RFC 9162 §2.1.4.1).

    ``first == second`` gives the empty proof.  A proof from the empty tree is
    refused, as in transparency-dev/merkle ``proof.Consistency``: it would prove
    nothing and its verifier rejects it.

    :raises ProofError: (code ``ledger.bad_proof_request``) unless 0 < first <= second.
    """
    _check_size(first, "first size", BAD_PROOF_REQUEST)
    _check_size(second, "second size", BAD_PROOF_REQUEST)
    if first > second:
        raise ProofError(f"first size {first} > second size {second}", code=BAD_PROOF_REQUEST)
    if first == 0:
        raise ProofError("consistency proof from the empty tree is meaningless", code=BAD_PROOF_REQUEST)
    return _subproof(first, 0, second, True, get_node)


def _recorder(calls: list[tuple[int, int]]) -> GetNode:
    def get_node(level: int, index: int) -> bytes:
        calls.append((level, index))
        return bytes(HASH_SIZE)

    return get_node


def inclusion_path_nodes(index: int, size: int) -> list[tuple[int, int]]:
    """List the perfect nodes ``(level, index)`` inclusion_path will read (RFC 9162 §2.1.3.1).

    Lets storage fetch them all in one query before building the proof.

    :raises ProofError: as inclusion_path.
    """
    calls: list[tuple[int, int]] = []
    inclusion_path(index, size, _recorder(calls))
    return list(dict.fromkeys(calls))


def consistency_path_nodes(first: int, second: int) -> list[tuple[int, int]]:
    """List the perfect nodes ``(level, index)`` consistency_path will read (RFC 9162 §2.1.4.1).

    :raises ProofError: as consistency_path.
    """
    calls: list[tuple[int, int]] = []
    consistency_path(first, second, _recorder(calls))
    return list(dict.fromkeys(calls))


def _inclusion_length(index: int, size: int) -> tuple[int, int]:
    """Split a path into (inner, border) lengths (transparency-dev/merkle decompInclProof)."""
    inner = (index ^ (size - 1)).bit_length()
    border = bin(index >> inner).count("1")
    return inner, border


def _check_path(path: Sequence[bytes], want: int) -> list[bytes]:
    items = list(path)
    if len(items) != want:
        raise ProofError(f"proof has {len(items)} hashes, want {want}")
    for i, h in enumerate(items):
        _check_hash(h, f"proof hash {i}")
    return items


def root_from_inclusion_proof(leaf: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes:
    """Return the root implied by an audit path (RFC 9162 §2.1.3.2, steps 1-3).

    :raises ProofError: on a bad hash length, index >= size or a wrong path length.
    """
    _check_hash(leaf, "leaf hash")
    _check_size(index, "index", ProofError.code)
    _check_size(size, "size", ProofError.code)
    if index >= size:
        raise ProofError(f"index {index} >= size {size}")
    items = _check_path(path, sum(_inclusion_length(index, size)))
    # The exact length check above subsumes the RFC's "sn = 0" checks (steps 3a, 4).
    fn, sn, r = index, size - 1, leaf
    for p in items:
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return r


def verify_inclusion(leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes) -> None:
    """Check that ``leaf`` is at ``index`` in the tree of ``size`` with ``root`` (RFC 9162 §2.1.3.2).

    :raises ProofError: on any malformed input or if the computed root differs.
    """
    _check_hash(root, "root hash")
    computed = root_from_inclusion_proof(leaf, index, size, path)
    if not hmac.compare_digest(computed, root):
        raise ProofError(f"inclusion proof for index {index} does not match the root of size {size}")


def _consistency_length(first: int, second: int) -> int:
    """Return the exact proof length (transparency-dev/merkle RootFromConsistencyProof)."""
    inner, border = _inclusion_length(first - 1, second)
    shift = (first & -first).bit_length() - 1
    seeded = 0 if first == 1 << shift else 1
    return seeded + inner - shift + border


def verify_consistency(
    first: int, second: int, path: Sequence[bytes], first_root: bytes, second_root: bytes
) -> None:
    """Check that the tree of ``first`` leaves is a prefix of that of ``second`` (RFC 9162 §2.1.4.2).

    Edge rules follow transparency-dev/merkle ``proof/verify.go``: ``first >
    second`` and ``first == 0`` are refused; equal sizes need an empty proof and
    equal roots; otherwise the proof length must be exact.

    :raises ProofError: on any malformed input or if either root does not match.
    """
    _check_hash(first_root, "first root")
    _check_hash(second_root, "second root")
    _check_size(first, "first size", ProofError.code)
    _check_size(second, "second size", ProofError.code)
    if first > second:
        raise ProofError(f"first size {first} > second size {second}")
    if first == 0:
        raise ProofError("consistency proof from the empty tree is meaningless")
    if first == second:
        _check_path(path, 0)
        if not hmac.compare_digest(first_root, second_root):
            raise ProofError(f"roots differ for the same size {first}")
        return
    if not path:
        raise ProofError(f"empty consistency proof from size {first} to {second}")
    items = _check_path(path, _consistency_length(first, second))
    fr, sr = _consistency_roots(first, second, items, first_root)
    if not hmac.compare_digest(fr, first_root):
        raise ProofError(f"consistency proof does not match the root of size {first}")
    if not hmac.compare_digest(sr, second_root):
        raise ProofError(f"consistency proof does not match the root of size {second}")


def _consistency_roots(first: int, second: int, items: list[bytes], first_root: bytes) -> tuple[bytes, bytes]:
    """Run RFC 9162 §2.1.4.2 steps 2-6 and return (old root, new root) as computed."""
    if first & (first - 1) == 0:  # step 2: first is a power of two
        items = [first_root, *items]
    fn, sn = first - 1, second - 1
    while fn & 1:  # step 3
        fn, sn = fn >> 1, sn >> 1
    # The caller's exact length check subsumes the RFC's "sn = 0" checks (5a, 6).
    fr = sr = items[0]
    for c in items[1:]:
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr, sr


def _check_frontier(frontier: Frontier, size: int) -> None:
    _check_size(size, "size", ProofError.code)
    want = bin(size).count("1")
    if len(frontier) != want:
        raise ProofError(f"frontier has {len(frontier)} hashes, size {size} needs {want}")
    for i, h in enumerate(frontier):
        _check_hash(h, f"frontier hash {i}")


def append(frontier: Frontier, size: int, leaf_hashes: Iterable[bytes]) -> tuple[Frontier, int, list[Node]]:
    """Append leaves to a frontier; return (frontier, size, newly completed perfect nodes).

    The compact-range merge of transparency-dev/merkle ``docs/compact_ranges.md``:
    each leaf is pushed as a level-0 node, and equal-level neighbours are merged
    into their parent (RFC 9162 §2.1.1).  Every perfect node completed by the
    append, leaves included, is returned in creation order for storage to write.

    :raises ProofError: if the frontier does not match ``size``, a leaf hash is
        not 32 bytes, or the tree would exceed 2**64 - 1 leaves.
    """
    _check_frontier(frontier, size)
    levels = [i for i in range(size.bit_length() - 1, -1, -1) if size >> i & 1]
    stack = list(zip(levels, frontier))
    created: list[Node] = []
    for h in leaf_hashes:
        _check_hash(h, f"leaf hash {size}")
        if size == MAX_TREE_SIZE:
            raise ProofError("tree is full (2**64 - 1 leaves)")
        created.append(Node(0, size, h))
        level, acc = 0, h
        while stack and stack[-1][0] == level:
            acc = node_hash(stack.pop()[1], acc)
            level += 1
            created.append(Node(level, size >> level, acc))
        stack.append((level, acc))
        size += 1
    return tuple(h for _, h in stack), size, created


def frontier_root(frontier: Frontier, size: int) -> bytes:
    """Return MTH(D[size]) from the frontier, folding right to left (RFC 9162 §2.1.1).

    :raises ProofError: if the frontier does not match ``size``.
    """
    _check_frontier(frontier, size)
    if not frontier:
        return EMPTY_ROOT
    acc = frontier[-1]
    for h in reversed(frontier[:-1]):
        acc = node_hash(h, acc)
    return acc


def frontier_for_size(size: int, get_node: GetNode) -> Frontier:
    """Read the frontier of a tree of ``size`` from stored perfect nodes (RFC 9162 §2.1.1).

    :raises ProofError: if size is out of range or get_node misbehaves.
    """
    return tuple(_fetch(get_node, level, index) for level, index in perfect_subtrees(0, size))


def encode_frontier(frontier: Frontier, size: int) -> bytes:
    """Serialise a frontier: version byte 0x01, size as uint64 big-endian, then the hashes.

    :raises ProofError: if the frontier does not match ``size``.
    """
    _check_frontier(frontier, size)
    return bytes([_FRONTIER_VERSION]) + size.to_bytes(8, "big") + b"".join(frontier)


def decode_frontier(data: bytes) -> tuple[Frontier, int]:
    """Parse bytes made by encode_frontier; return (frontier, size).

    :raises ProofError: on an unknown version or a length that does not match the size.
    """
    if len(data) < 9 or data[0] != _FRONTIER_VERSION:
        raise ProofError("encoded frontier has an unknown version or is truncated")
    size = int.from_bytes(data[1:9], "big")
    body = data[9:]
    if len(body) != HASH_SIZE * bin(size).count("1"):
        raise ProofError(f"encoded frontier has {len(body)} hash bytes, wrong for size {size}")
    frontier = tuple(body[i : i + HASH_SIZE] for i in range(0, len(body), HASH_SIZE))
    return frontier, size
