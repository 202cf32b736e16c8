"""Tests of ledger.merkle against RFC 9162 §2.1 and transparency-dev/merkle vectors."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ledger import merkle
from ledger.errors import ProofError
from ledger.merkle import (
    BAD_PROOF_REQUEST,
    EMPTY_ROOT,
    consistency_path,
    inclusion_path,
    leaf_hash,
    node_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


TREE = load("merkle_rfc6962_tree.json")
INCLUSION = load("merkle_inclusion.json")
CONSISTENCY = load("merkle_consistency.json")
NODES = load("merkle_proof_nodes.json")
LEAVES = [leaf_hash(bytes.fromhex(h)) for h in TREE["leaf_inputs_hex"]]
ROOTS = [bytes.fromhex(h) for h in TREE["root_hashes_hex_by_size"]]


# --- reference implementations, straight from the RFC 9162 §2.1 recursion -------------


def ref_mth(hashes: list[bytes]) -> bytes:
    if not hashes:
        return EMPTY_ROOT
    if len(hashes) == 1:
        return hashes[0]
    k = 1 << ((len(hashes) - 1).bit_length() - 1)
    return node_hash(ref_mth(hashes[:k]), ref_mth(hashes[k:]))


def ref_path(m: int, hashes: list[bytes]) -> list[bytes]:
    n = len(hashes)
    if n == 1:
        return []
    k = 1 << ((n - 1).bit_length() - 1)
    if m < k:
        return ref_path(m, hashes[:k]) + [ref_mth(hashes[k:])]
    return ref_path(m - k, hashes[k:]) + [ref_mth(hashes[:k])]


def ref_subproof(m: int, hashes: list[bytes], complete: bool) -> list[bytes]:
    n = len(hashes)
    if m == n:
        return [] if complete else [ref_mth(hashes)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return ref_subproof(m, hashes[:k], complete) + [ref_mth(hashes[k:])]
    return ref_subproof(m - k, hashes[k:], False) + [ref_mth(hashes[:k])]


def perfect_store(hashes: list[bytes]) -> dict[tuple[int, int], bytes]:
    """Every perfect node of the tree, computed naively."""
    store = {(0, i): h for i, h in enumerate(hashes)}
    level = 0
    while (2 << level) <= len(hashes):
        for i in range(len(hashes) >> (level + 1)):
            store[(level + 1, i)] = node_hash(store[(level, 2 * i)], store[(level, 2 * i + 1)])
        level += 1
    return store


def getter(hashes: list[bytes], calls: list[tuple[int, int]] | None = None) -> Callable[[int, int], bytes]:
    store = perfect_store(hashes)

    def get_node(level: int, index: int) -> bytes:
        if calls is not None:
            calls.append((level, index))
        return store[(level, index)]  # KeyError if a non-perfect node is requested

    return get_node


def make_leaves(n: int) -> list[bytes]:
    return [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


def unhex(values: list[str]) -> list[bytes]:
    return [bytes.fromhex(v) for v in values]


def unb64(values: list[str] | None) -> list[bytes]:
    return [base64.b64decode(v) for v in values or []]


# --- hashing ---------------------------------------------------------------------------


def test_hashes_match_rfc6962_hasher_vectors() -> None:
    h = TREE["hasher"]
    assert EMPTY_ROOT.hex() == h["empty_root"]
    assert leaf_hash(b"").hex() == h["empty_leaf"]
    assert leaf_hash(b"L123456").hex() == h["leaf_L123456"]
    assert node_hash(b"N123", b"N456").hex() == h["node_N123_N456"]


def test_leaf_and_node_hashes_are_domain_separated() -> None:
    left, right = leaf_hash(b"Hello"), leaf_hash(b"World")
    assert left != right
    assert node_hash(left, right) != leaf_hash(left + right)
    assert node_hash(left, right) != node_hash(right, left)


@pytest.mark.parametrize("size", range(9))
def test_root_hash_matches_golden_roots_for_sizes_0_to_8(size: int) -> None:
    assert root_hash(LEAVES[:size]) == ROOTS[size]


def test_perfect_nodes_match_golden_node_hashes() -> None:
    store = perfect_store(LEAVES)
    for level, row in enumerate(TREE["node_hashes_hex_by_level"]):
        for index, want in enumerate(row):
            assert store[(level, index)].hex() == want


def test_root_hash_rejects_a_leaf_hash_of_the_wrong_length() -> None:
    with pytest.raises(ProofError, match="leaf hash 1"):
        root_hash([LEAVES[0], b"short"])


def test_root_hash_equals_frontier_root_for_a_large_tree() -> None:
    leaves = make_leaves(70_001)
    frontier, size, _ = merkle.append((), 0, leaves)
    assert root_hash(leaves) == merkle.frontier_root(frontier, size)


# --- compact ranges and subtrees -------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "want"),
    [
        # transparency-dev/merkle docs/compact_ranges.md examples.
        (2, 9, [(1, 1), (2, 1), (0, 8)]),
        (12, 16, [(2, 3)]),
        (0, 21, [(4, 0), (2, 4), (0, 20)]),
        (6, 16, [(1, 3), (3, 1)]),
        (5, 5, []),
    ],
)
def test_perfect_subtrees_decomposes_into_the_compact_range(start: int, end: int, want: list[tuple[int, int]]) -> None:
    assert merkle.perfect_subtrees(start, end) == want


def test_perfect_subtrees_rejects_start_after_end() -> None:
    with pytest.raises(ProofError) as err:
        merkle.perfect_subtrees(5, 4)
    assert err.value.code == BAD_PROOF_REQUEST


@pytest.mark.parametrize(("start", "end"), [(0, 7), (4, 7), (6, 7), (8, 13), (0, 1), (16, 31)])
def test_subtree_hash_folds_the_right_edge(start: int, end: int) -> None:
    leaves = make_leaves(32)
    assert merkle.subtree_hash(start, end, getter(leaves)) == ref_mth(leaves[start:end])


@pytest.mark.parametrize(("start", "end"), [(1, 3), (2, 5), (4, 4), (3, 2), (4, 9)])
def test_subtree_hash_rejects_ranges_that_are_not_subtrees(start: int, end: int) -> None:
    with pytest.raises(ProofError) as err:
        merkle.subtree_hash(start, end, getter(make_leaves(16)))
    assert err.value.code == BAD_PROOF_REQUEST


def test_subtree_hash_rejects_a_get_node_returning_the_wrong_length() -> None:
    with pytest.raises(ProofError, match="get_node"):
        merkle.subtree_hash(0, 4, lambda level, index: b"\x00" * 31)


# --- inclusion: golden vectors ----------------------------------------------------------


@pytest.mark.parametrize("case", INCLUSION["proofs"], ids=lambda c: f"{c['index']}:{c['size']}")
def test_inclusion_path_equals_the_golden_path(case: dict[str, Any]) -> None:
    leaves = LEAVES[: case["size"]]
    assert inclusion_path(case["index"], case["size"], getter(leaves)) == unhex(case["path"])


@pytest.mark.parametrize("case", INCLUSION["proofs"], ids=lambda c: f"{c['index']}:{c['size']}")
def test_verify_inclusion_accepts_golden_and_rejects_each_tampered_variant(case: dict[str, Any]) -> None:
    index, size, path = case["index"], case["size"], unhex(case["path"])
    leaf, root = LEAVES[index], ROOTS[size]
    verify_inclusion(leaf, index, size, path, root)
    assert merkle.root_from_inclusion_proof(leaf, index, size, path) == root
    # The probes of transparency-dev/merkle proof/verify_test.go corruptInclusionProof.
    probes: list[tuple[int, int, bytes, bytes, list[bytes]]] = [
        (index - 1, size, leaf, root, path),
        (index + 1, size, leaf, root, path),
        (index ^ 2, size, leaf, root, path),
        (index, size * 2, leaf, root, path),
        (index, size // 2, leaf, root, path),
        (index, size, leaf_hash(b"WrongLeaf"), root, path),
        (index, size, leaf, EMPTY_ROOT, path),
        (index, size, leaf, SOME_HASH, path),
        (index, size, leaf, root, [*path, b""]),
        (index, size, leaf, root, [*path, root]),
        (index, size, leaf, root, [b"", *path]),
        (index, size, leaf, root, [root, *path]),
    ]
    for i in range(len(path)):
        flipped = bytearray(path[i])
        flipped[0] ^= 8
        probes.append((index, size, leaf, root, [*path[:i], bytes(flipped), *path[i + 1 :]]))
    probes.append((index, size, leaf, root, path[:-1]))
    if len(path) > 1:
        probes.append((index, size, leaf, root, [path[0], SOME_HASH, *path[1:]]))
    for p_index, p_size, p_leaf, p_root, p_path in probes:
        if p_index < 0:
            continue
        with pytest.raises(ProofError):
            verify_inclusion(p_leaf, p_index, p_size, p_path, p_root)


@pytest.mark.parametrize("probe", INCLUSION["probes"], ids=lambda p: p["file"])
def test_verify_inclusion_agrees_with_testdata_probes(probe: dict[str, Any]) -> None:
    args = (
        base64.b64decode(probe["leafHash"]),
        probe["leafIdx"],
        probe["treeSize"],
        unb64(probe["proof"]),
        base64.b64decode(probe["root"]),
    )
    if probe["wantErr"]:
        with pytest.raises(ProofError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("case", NODES["inclusion"], ids=lambda c: f"{c['index']}:{c['size']}")
def test_inclusion_path_reads_the_same_nodes_as_transparency_dev(case: dict[str, Any]) -> None:
    leaves = make_leaves(case["size"])
    store = perfect_store(leaves)
    hashes = [store[(level, index)] for level, index in case["ids"]]
    if "rehash" in case:
        begin, end = case["rehash"]
        acc = hashes[begin]
        for h in hashes[begin + 1 : end]:
            acc = node_hash(h, acc)
        hashes[begin:end] = [acc]
    calls: list[tuple[int, int]] = []
    assert inclusion_path(case["index"], case["size"], getter(leaves, calls)) == hashes
    assert calls == [tuple(i) for i in case["ids"]]
    assert merkle.inclusion_path_nodes(case["index"], case["size"]) == [tuple(i) for i in case["ids"]]


@pytest.mark.parametrize(("size", "index"), NODES["inclusion_errors"])
def test_inclusion_path_refuses_index_ge_size(size: int, index: int) -> None:
    with pytest.raises(ProofError) as err:
        inclusion_path(index, size, getter(make_leaves(size)))
    assert err.value.code == BAD_PROOF_REQUEST


# --- inclusion: edge rules -------------------------------------------------------------


def test_verify_inclusion_rejects_index_ge_size() -> None:
    with pytest.raises(ProofError, match="index 8 >= size 8"):
        verify_inclusion(LEAVES[0], 8, 8, [], ROOTS[8])
    for index, size in [(0, 0), (1, 0), (2, 1)]:
        with pytest.raises(ProofError, match=">= size"):
            verify_inclusion(SOME_HASH, index, size, [], EMPTY_ROOT)


def test_verify_inclusion_rejects_negative_and_non_integer_indices() -> None:
    for index in (-1, True, 1.0):
        with pytest.raises(ProofError, match="index"):
            verify_inclusion(LEAVES[0], index, 8, [], ROOTS[8])  # type: ignore[arg-type]


def test_verify_inclusion_single_entry_needs_equal_32_byte_hashes() -> None:
    h = leaf_hash(b"data")
    verify_inclusion(h, 0, 1, [], h)
    for leaf, root in [(h, b""), (b"", h), (b"", b""), (h, SOME_HASH)]:
        with pytest.raises(ProofError):
            verify_inclusion(leaf, 0, 1, [], root)


def test_verify_inclusion_rejects_a_path_hash_of_the_wrong_length() -> None:
    path = unhex(INCLUSION["proofs"][0]["path"])
    path[1] = path[1][:31]
    with pytest.raises(ProofError, match="proof hash 1 must be 32 bytes"):
        verify_inclusion(LEAVES[0], 0, 8, path, ROOTS[8])


def test_verify_inclusion_rejects_a_wrong_path_length_with_its_own_message() -> None:
    with pytest.raises(ProofError, match="proof has 2 hashes, want 3"):
        verify_inclusion(LEAVES[0], 0, 8, unhex(INCLUSION["proofs"][0]["path"])[:2], ROOTS[8])


def test_verify_inclusion_failures_carry_the_bad_proof_code() -> None:
    with pytest.raises(ProofError) as err:
        verify_inclusion(LEAVES[1], 0, 8, unhex(INCLUSION["proofs"][0]["path"]), ROOTS[8])
    assert err.value.code == "ledger.bad_proof"
    assert "does not match the root" in err.value.detail


# --- consistency: golden vectors --------------------------------------------------------


@pytest.mark.parametrize("case", CONSISTENCY["proofs"], ids=lambda c: f"{c['first']}:{c['second']}")
def test_consistency_path_equals_the_golden_path(case: dict[str, Any]) -> None:
    leaves = LEAVES[: case["second"]]
    assert consistency_path(case["first"], case["second"], getter(leaves)) == unhex(case["path"])


@pytest.mark.parametrize("case", CONSISTENCY["proofs"], ids=lambda c: f"{c['first']}:{c['second']}")
def test_verify_consistency_accepts_golden_and_rejects_each_tampered_variant(case: dict[str, Any]) -> None:
    first, second, path = case["first"], case["second"], unhex(case["path"])
    root1, root2 = ROOTS[first], ROOTS[second]
    verify_consistency(first, second, path, root1, root2)
    if not path:
        return
    # The probes of transparency-dev/merkle proof/verify_test.go corruptConsistencyProof.
    probes: list[tuple[int, int, bytes, bytes, list[bytes]]] = [
        (first - 1, second, root1, root2, path),
        (first + 1, second, root1, root2, path),
        (first ^ 2, second, root1, root2, path),
        (first, second * 2, root1, root2, path),
        (first, second // 2, root1, root2, path),
        (first, second, SOME_HASH, root2, path),
        (first, second, root1, SOME_HASH, path),
        (first, second, root2, root1, path),
        (first, second, root1, root2, []),
        (first, second, root1, root2, [*path, b""]),
        (first, second, root1, root2, [*path, root1]),
        (first, second, root1, root2, [*path, root2]),
        (first, second, root1, root2, [b"", *path]),
        (first, second, root1, root2, [root1, *path]),
        (first, second, root1, root2, [root2, *path]),
        (first, second, root1, root2, [path[0], *path]),
        (first, second, root1, root2, path[:-1]),
    ]
    for i in range(len(path)):
        flipped = bytearray(path[i])
        flipped[0] ^= 16
        probes.append((first, second, root1, root2, [*path[:i], bytes(flipped), *path[i + 1 :]]))
    for p_first, p_second, p_root1, p_root2, p_path in probes:
        with pytest.raises(ProofError):
            verify_consistency(p_first, p_second, p_path, p_root1, p_root2)


@pytest.mark.parametrize("probe", CONSISTENCY["probes"], ids=lambda p: p["file"])
def test_verify_consistency_agrees_with_testdata_probes(probe: dict[str, Any]) -> None:
    args = (
        probe["size1"],
        probe["size2"],
        unb64(probe["proof"]),
        base64.b64decode(probe["root1"]),
        base64.b64decode(probe["root2"]),
    )
    if probe["wantErr"]:
        with pytest.raises(ProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


@pytest.mark.parametrize("case", NODES["consistency"], ids=lambda c: f"{c['size1']}:{c['size2']}")
def test_consistency_path_reads_the_same_nodes_as_transparency_dev(case: dict[str, Any]) -> None:
    leaves = make_leaves(case["size2"])
    store = perfect_store(leaves)
    hashes = [store[(level, index)] for level, index in case["ids"]]
    if "rehash" in case:
        begin, end = case["rehash"]
        acc = hashes[begin]
        for h in hashes[begin + 1 : end]:
            acc = node_hash(h, acc)
        hashes[begin:end] = [acc]
    calls: list[tuple[int, int]] = []
    assert consistency_path(case["size1"], case["size2"], getter(leaves, calls)) == hashes
    assert calls == [tuple(i) for i in case["ids"]]
    assert merkle.consistency_path_nodes(case["size1"], case["size2"]) == [tuple(i) for i in case["ids"]]


@pytest.mark.parametrize(("first", "second"), [*NODES["consistency_errors"], (0, 0), (0, 5)])
def test_consistency_path_refuses_first_gt_second_and_the_empty_tree(first: int, second: int) -> None:
    with pytest.raises(ProofError) as err:
        consistency_path(first, second, getter(make_leaves(max(first, second))))
    assert err.value.code == BAD_PROOF_REQUEST


# --- consistency: edge rules (transparency-dev/merkle proof/verify.go) ------------------


def test_verify_consistency_rejects_first_gt_second() -> None:
    with pytest.raises(ProofError, match="first size 2 > second size 1"):
        verify_consistency(2, 1, [], ROOTS[2], ROOTS[1])


@pytest.mark.parametrize("path", [[], [EMPTY_ROOT]])
def test_verify_consistency_rejects_first_zero_with_or_without_a_path(path: list[bytes]) -> None:
    for second in (0, 1, 8):
        with pytest.raises(ProofError, match="empty tree"):
            verify_consistency(0, second, path, EMPTY_ROOT, ROOTS[second])


def test_verify_consistency_equal_sizes_need_an_empty_path_and_equal_roots() -> None:
    verify_consistency(1, 1, [], ROOTS[1], ROOTS[1])
    with pytest.raises(ProofError, match="roots differ"):
        verify_consistency(1, 1, [], ROOTS[1], ROOTS[2])
    with pytest.raises(ProofError, match="proof has 1 hashes, want 0"):
        verify_consistency(1, 1, [EMPTY_ROOT], ROOTS[1], ROOTS[1])


def test_verify_consistency_rejects_an_empty_path_between_different_sizes() -> None:
    with pytest.raises(ProofError, match="empty consistency proof"):
        verify_consistency(1, 2, [], ROOTS[1], ROOTS[2])


def test_verify_consistency_rejects_roots_of_the_wrong_length() -> None:
    with pytest.raises(ProofError, match="first root"):
        verify_consistency(1, 1, [], b"don't care 1", b"don't care 1")
    with pytest.raises(ProofError, match="second root"):
        verify_consistency(1, 8, [], ROOTS[1], ROOTS[8][:31])


def test_verify_consistency_names_which_root_does_not_match() -> None:
    case = CONSISTENCY["proofs"][2]
    path = unhex(case["path"])
    with pytest.raises(ProofError, match="root of size 6"):
        verify_consistency(6, 8, path, SOME_HASH, ROOTS[8])
    with pytest.raises(ProofError, match="root of size 8"):
        verify_consistency(6, 8, path, ROOTS[6], SOME_HASH)


# --- properties ------------------------------------------------------------------------


@st.composite
def size_and_index(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(st.integers(min_value=1, max_value=300))
    return size, draw(st.integers(min_value=0, max_value=size - 1))


@st.composite
def two_sizes(draw: st.DrawFn) -> tuple[int, int]:
    second = draw(st.integers(min_value=1, max_value=300))
    return draw(st.integers(min_value=1, max_value=second)), second


@settings(max_examples=200, deadline=None)
@given(size_and_index())
@example((300, 299))
@example((300, 0))
@example((257, 256))
@example((255, 128))
def test_inclusion_paths_match_the_rfc_recursion_and_verify(case: tuple[int, int]) -> None:
    size, index = case
    leaves = make_leaves(size)
    path = inclusion_path(index, size, getter(leaves))
    assert path == ref_path(index, leaves)
    verify_inclusion(leaves[index], index, size, path, ref_mth(leaves))


@settings(max_examples=200, deadline=None)
@given(two_sizes())
@example((1, 300))
@example((255, 300))
@example((256, 257))
@example((299, 300))
@example((300, 300))
def test_consistency_paths_match_the_rfc_recursion_and_verify(case: tuple[int, int]) -> None:
    first, second = case
    leaves = make_leaves(second)
    path = consistency_path(first, second, getter(leaves))
    assert path == (ref_subproof(first, leaves, True) if first < second else [])
    verify_consistency(first, second, path, ref_mth(leaves[:first]), ref_mth(leaves))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=40), max_size=12))
@example([300])
@example([1] * 33)
@example([0, 7, 0, 9, 16, 1])
def test_frontier_append_in_chunks_gives_the_root_and_exactly_the_perfect_nodes(chunks: list[int]) -> None:
    leaves = make_leaves(sum(chunks))
    frontier: merkle.Frontier = ()
    size = 0
    emitted: list[merkle.Node] = []
    for count in chunks:
        frontier, size, nodes = merkle.append(frontier, size, leaves[size : size + count])
        emitted.extend(nodes)
        assert merkle.frontier_root(frontier, size) == root_hash(leaves[:size])
        assert merkle.decode_frontier(merkle.encode_frontier(frontier, size)) == (frontier, size)
    store = perfect_store(leaves)
    assert [(n.level, n.idx) for n in emitted] == sorted(store, key=lambda k: ((k[1] + 1) << k[0], k[0]))
    assert all(store[(n.level, n.idx)] == n.hash for n in emitted)
    assert frontier == merkle.frontier_for_size(size, getter(leaves))


def test_every_path_verifies_for_all_sizes_up_to_40() -> None:
    for size in range(1, 41):
        leaves = make_leaves(size)
        get_node, root = getter(leaves), root_hash(leaves)
        for index in range(size):
            verify_inclusion(leaves[index], index, size, inclusion_path(index, size, get_node), root)
        for first in range(1, size + 1):
            path = consistency_path(first, size, get_node)
            verify_consistency(first, size, path, root_hash(leaves[:first]), root)


# --- frontier --------------------------------------------------------------------------


def test_frontier_matches_the_golden_compact_trees() -> None:
    frontier: merkle.Frontier = ()
    store = perfect_store(LEAVES)
    for size, ids in enumerate(TREE["compact_trees_by_size"]):
        assert frontier == tuple(store[(level, index)] for level, index in ids)
        assert merkle.frontier_root(frontier, size) == ROOTS[size]
        if size < len(LEAVES):
            frontier, _, _ = merkle.append(frontier, size, [LEAVES[size]])


def test_append_reports_leaves_and_completed_parents_in_order() -> None:
    _, _, nodes = merkle.append((), 0, LEAVES[:4])
    assert [(n.level, n.idx) for n in nodes] == [(0, 0), (0, 1), (1, 0), (0, 2), (0, 3), (1, 1), (2, 0)]
    level, index, digest = nodes[-1]
    assert (level, index, digest) == (2, 0, ROOTS[4])


def test_append_rejects_a_frontier_that_does_not_match_the_size() -> None:
    with pytest.raises(ProofError, match="size 3 needs 2"):
        merkle.append((ROOTS[2],), 3, [LEAVES[3]])


def test_append_rejects_a_leaf_hash_of_the_wrong_length() -> None:
    with pytest.raises(ProofError, match="leaf hash 0"):
        merkle.append((), 0, [b"x"])


def test_append_refuses_to_grow_past_2_to_the_64_minus_1() -> None:
    size = merkle.MAX_TREE_SIZE
    frontier = tuple(EMPTY_ROOT for _ in range(64))
    with pytest.raises(ProofError, match="full"):
        merkle.append(frontier, size, [LEAVES[0]])


def test_frontier_root_of_the_empty_tree_is_sha256_of_nothing() -> None:
    assert merkle.frontier_root((), 0) == EMPTY_ROOT


def test_encode_frontier_carries_a_version_and_the_size() -> None:
    frontier, size, _ = merkle.append((), 0, LEAVES[:7])
    data = merkle.encode_frontier(frontier, size)
    assert data[0] == 1 and int.from_bytes(data[1:9], "big") == 7 and len(data) == 9 + 3 * 32


@pytest.mark.parametrize(
    "data",
    [b"", b"\x02" + bytes(8), b"\x01" + bytes(7), b"\x01" + (1).to_bytes(8, "big"), b"\x01" + bytes(8) + bytes(32)],
)
def test_decode_frontier_rejects_bad_versions_and_lengths(data: bytes) -> None:
    with pytest.raises(ProofError):
        merkle.decode_frontier(data)
