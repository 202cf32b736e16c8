"""Tests of ledger.proof_bundle: C2SP tlog-proof text and its staged verification."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from ledger import merkle
from ledger.entry import make_entry
from ledger.errors import CheckpointError, LedgerError, ProofError
from ledger.note import Checkpoint, LogSigningKey, format_checkpoint, generate_signer, sign_note
from ledger.proof_bundle import (
    HEADER,
    ProofBundle,
    format_proof_bundle,
    parse_proof_bundle,
    verify_proof_bundle,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
ORIGIN = "example.com/ledger"


def load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


C2SP = load("c2sp_examples.json")


class Log:
    """A tiny in-memory log: entries, perfect nodes and a signed checkpoint."""

    def __init__(self, count: int, signer: LogSigningKey) -> None:
        self.entries = [
            make_entry("test.event", "2024-05-01T00:00:00Z", "actor:1", f"item:{i}", None, {"n": i})
            for i in range(count)
        ]
        frontier, size, nodes = merkle.append((), 0, [merkle.leaf_hash(e) for e in self.entries])
        self.store = {(n.level, n.idx): n.hash for n in nodes}
        self.root = merkle.frontier_root(frontier, size)
        self.note = sign_note(format_checkpoint(Checkpoint(ORIGIN, size, self.root)), signer)

    def bundle(self, index: int, extra: bytes | None = None) -> str:
        path = merkle.inclusion_path(index, len(self.entries), lambda level, i: self.store[(level, i)])
        return format_proof_bundle(index, path, self.note, extra)


@pytest.fixture(scope="module")
def signer() -> LogSigningKey:
    return generate_signer(ORIGIN)


@pytest.fixture(scope="module")
def log(signer: LogSigningKey) -> Log:
    return Log(13, signer)


def test_format_proof_bundle_follows_the_c2sp_layout(log: Log) -> None:
    text = log.bundle(5, extra=b"context")
    lines = text.split("\n")
    assert lines[0] == HEADER
    assert lines[1] == "extra " + base64.b64encode(b"context").decode()
    assert lines[2] == "index 5"
    path_lines = lines[3 : lines.index("")]
    assert [base64.b64decode(x) for x in path_lines] == merkle.inclusion_path(
        5, 13, lambda level, i: log.store[(level, i)]
    )
    assert text.endswith("\n\n" + log.note)


def test_parse_proof_bundle_round_trips(log: Log) -> None:
    bundle = parse_proof_bundle(log.bundle(12, extra=b""))
    assert bundle == ProofBundle(12, bundle.path, log.note, b"")
    assert format_proof_bundle(bundle.index, bundle.path, bundle.note, bundle.extra) == log.bundle(12, extra=b"")
    assert parse_proof_bundle(log.bundle(0)).extra is None


def test_verify_proof_bundle_accepts_every_entry_of_the_log(log: Log, signer: LogSigningKey) -> None:
    for index, entry in enumerate(log.entries):
        checkpoint = verify_proof_bundle(log.bundle(index), entry, [signer.verifier()], ORIGIN)
        assert checkpoint == Checkpoint(ORIGIN, 13, log.root)


def test_verify_proof_bundle_of_a_one_entry_log_has_no_path_lines(signer: LogSigningKey) -> None:
    single = Log(1, signer)
    text = single.bundle(0)
    assert text.startswith(f"{HEADER}\nindex 0\n\n")
    verify_proof_bundle(text, single.entries[0], [signer.verifier()], ORIGIN)


def test_verify_proof_bundle_ignores_extra_data(log: Log, signer: LogSigningKey) -> None:
    verify_proof_bundle(log.bundle(3, extra=b"untrusted"), log.entries[3], [signer.verifier()], ORIGIN)


def test_verify_proof_bundle_rejects_other_entry_bytes_at_the_inclusion_step(log: Log, signer: LogSigningKey) -> None:
    with pytest.raises(ProofError, match=r"^step 3 \(inclusion\): ") as err:
        verify_proof_bundle(log.bundle(3), log.entries[4], [signer.verifier()], ORIGIN)
    assert err.value.code == "ledger.bad_proof"


def test_verify_proof_bundle_rejects_a_wrong_index(log: Log, signer: LogSigningKey) -> None:
    text = log.bundle(3).replace("\nindex 3\n", "\nindex 2\n")
    with pytest.raises(ProofError, match=r"^step 3 \(inclusion\): "):
        verify_proof_bundle(text, log.entries[3], [signer.verifier()], ORIGIN)


def test_verify_proof_bundle_rejects_a_tampered_path(log: Log, signer: LogSigningKey) -> None:
    bundle = parse_proof_bundle(log.bundle(3))
    path = list(bundle.path)
    path[0] = bytes([path[0][0] ^ 1]) + path[0][1:]
    text = format_proof_bundle(3, path, bundle.note)
    with pytest.raises(ProofError, match=r"^step 3 \(inclusion\): "):
        verify_proof_bundle(text, log.entries[3], [signer.verifier()], ORIGIN)


def test_verify_proof_bundle_rejects_an_index_beyond_the_checkpoint(log: Log, signer: LogSigningKey) -> None:
    text = format_proof_bundle(13, [], log.note)
    with pytest.raises(ProofError, match=r"^step 3 \(inclusion\): index 13 >= size 13"):
        verify_proof_bundle(text, log.entries[0], [signer.verifier()], ORIGIN)


def test_verify_proof_bundle_rejects_another_origin_at_the_checkpoint_step(log: Log, signer: LogSigningKey) -> None:
    with pytest.raises(CheckpointError, match=r"^step 2 \(checkpoint\): origin: ") as err:
        verify_proof_bundle(log.bundle(3), log.entries[3], [signer.verifier()], "example.com/other")
    assert err.value.code == "ledger.bad_checkpoint"


def test_verify_proof_bundle_rejects_an_unknown_log_key(log: Log) -> None:
    other = generate_signer(ORIGIN)
    with pytest.raises(CheckpointError, match=r"^step 2 \(checkpoint\): signature: "):
        verify_proof_bundle(log.bundle(3), log.entries[3], [other.verifier()], ORIGIN)


def test_verify_proof_bundle_rejects_a_forged_checkpoint(log: Log, signer: LogSigningKey) -> None:
    forged = log.bundle(3).replace(f"\n{ORIGIN}\n13\n", f"\n{ORIGIN}\n14\n")
    with pytest.raises(CheckpointError, match=r"^step 2 \(checkpoint\): signature: invalid signature"):
        verify_proof_bundle(forged, log.entries[3], [signer.verifier()], ORIGIN)


def test_verify_proof_bundle_checks_the_checkpoint_before_the_inclusion_proof(log: Log) -> None:
    with pytest.raises(CheckpointError):
        verify_proof_bundle(log.bundle(3), b"wrong entry", [generate_signer(ORIGIN).verifier()], ORIGIN)


def test_verify_proof_bundle_reports_parse_errors_as_step_0(log: Log, signer: LogSigningKey) -> None:
    with pytest.raises(ProofError, match=r"^step 0 \(parse\): "):
        verify_proof_bundle("nonsense\n", log.entries[0], [signer.verifier()], ORIGIN)


def test_verify_proof_bundle_wants_entry_bytes(log: Log, signer: LogSigningKey) -> None:
    with pytest.raises(ProofError, match=r"^step 1 \(leaf hash\): "):
        verify_proof_bundle(log.bundle(0), "text", [signer.verifier()], ORIGIN)  # type: ignore[arg-type]


@pytest.mark.parametrize("case", C2SP["tlog_proof_errors"]["cases"], ids=lambda c: c["name"])
def test_parse_proof_bundle_rejects_the_transparency_dev_error_cases(case: dict[str, str]) -> None:
    with pytest.raises(ProofError):
        parse_proof_bundle(case["proof"])


@pytest.mark.parametrize(
    "text",
    [
        "",
        HEADER,
        f"{HEADER}\nindex 01\n\nnote\n",
        f"{HEADER}\nindex 18446744073709551616\n\nnote\n",
        f"{HEADER}\nindex 1",
        f"{HEADER}\nindex 1\n",
        f"{HEADER}\nindex 1\n\n",
        f"{HEADER}\nextra AA\nindex 1\n\nnote\n",
        f"{HEADER}\nindex 1\n{base64.b64encode(bytes(32)).decode()[:-1]}\n\nnote\n",
        f"{HEADER}\nindex 1\n" + f"{base64.b64encode(bytes(32)).decode()}\n" * 65 + "\nnote\n",
        f"{HEADER}\nINDEX 1\n\nnote\n",
    ],
)
def test_parse_proof_bundle_rejects_malformed_text(text: str) -> None:
    with pytest.raises(ProofError):
        parse_proof_bundle(text)


@pytest.mark.parametrize(
    ("index", "path", "note"),
    [(-1, [], "n\n"), (2**64, [], "n\n"), (0, [b"short"], "n\n"), (0, [bytes(32)] * 65, "n\n"), (0, [], "no newline")],
)
def test_format_proof_bundle_rejects_bad_arguments(index: int, path: list[bytes], note: str) -> None:
    with pytest.raises(ProofError):
        format_proof_bundle(index, path, note)


def test_every_stage_error_is_a_ledger_error(log: Log, signer: LogSigningKey) -> None:
    for text, entry in [("x\n", log.entries[0]), (log.bundle(1), log.entries[2])]:
        with pytest.raises(LedgerError):
            verify_proof_bundle(text, entry, [signer.verifier()], ORIGIN)
