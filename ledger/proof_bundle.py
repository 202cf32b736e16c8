"""Offline inclusion proofs in the C2SP tlog-proof text format.

A bundle (C2SP ``tlog-proof.md``, ``c2sp.org/tlog-proof@v1``) is::

    c2sp.org/tlog-proof@v1
    extra <base64>            (optional, unauthenticated)
    index <N>
    <base64 hash>             (zero or more: the RFC 9162 §2.1.3.1 audit path)

    <signed checkpoint note, verbatim>

:func:`verify_proof_bundle` is the one staged driver (STYLE 13).  Each error it
raises names its step in the message and keeps the code of the stage's error
class: ``ledger.bad_proof`` for the bundle and the inclusion proof,
``ledger.bad_checkpoint`` for the checkpoint.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ledger.errors import CheckpointError, ProofError
from ledger.merkle import HASH_SIZE, MAX_TREE_SIZE, leaf_hash, verify_inclusion
from ledger.note import Checkpoint, LogVerifierKey, verify_checkpoint

__all__ = [
    "HEADER",
    "MAX_PATH_LENGTH",
    "ProofBundle",
    "format_proof_bundle",
    "parse_proof_bundle",
    "verify_proof_bundle",
]

# C2SP tlog-proof §Format: the first line.
HEADER = "c2sp.org/tlog-proof@v1"
# RFC 9162 §2.1.3.1: an audit path has at most ceil(log2(size)) <= 64 hashes.
MAX_PATH_LENGTH = 64
# C2SP tlog-proof §Format: index in ASCII decimal, no leading zeroes.
_DECIMAL = re.compile(r"0|[1-9][0-9]*", re.ASCII)


@dataclass(frozen=True)
class ProofBundle:
    """A parsed tlog-proof: leaf index, audit path, signed checkpoint note, extra data."""

    index: int
    path: tuple[bytes, ...]
    note: str
    extra: bytes | None = None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ProofError(f"{what} is not valid base64: {text!r}") from None
    if _b64(raw) != text:
        raise ProofError(f"{what} is not canonical base64: {text!r}")
    return raw


def format_proof_bundle(index: int, path: Sequence[bytes], note: str, extra: bytes | None = None) -> str:
    """Return the tlog-proof text for a leaf index, its audit path and a signed note.

    :raises ProofError: if the index is not a uint64, a hash is not 32 bytes,
        the path is too long, or the note is empty.
    """
    if type(index) is not int or not 0 <= index <= MAX_TREE_SIZE:
        raise ProofError(f"index {index!r} is not a uint64")
    if len(path) > MAX_PATH_LENGTH:
        raise ProofError(f"path has {len(path)} hashes, more than {MAX_PATH_LENGTH}")
    if any(not isinstance(h, bytes) or len(h) != HASH_SIZE for h in path):
        raise ProofError(f"every path hash must be {HASH_SIZE} bytes")
    if not isinstance(note, str) or not note.endswith("\n"):
        raise ProofError("the checkpoint note must be a string ending in a newline")
    lines = [HEADER]
    if extra is not None:
        lines.append(f"extra {_b64(extra)}")
    lines.append(f"index {index}")
    lines.extend(_b64(h) for h in path)
    return "\n".join(lines) + "\n\n" + note


def _take_line(text: str, pos: int) -> tuple[str, int]:
    end = text.find("\n", pos)
    if end < 0:
        raise ProofError("proof ends before its checkpoint")
    return text[pos:end], end + 1


def parse_proof_bundle(text: str) -> ProofBundle:
    """Parse tlog-proof text (C2SP tlog-proof §Format); verify nothing.

    :raises ProofError: if the header, extra, index or path lines are malformed,
        or the checkpoint is missing.
    """
    if not isinstance(text, str):
        raise ProofError(f"proof must be a string, got {type(text).__name__}")
    line, pos = _take_line(text, 0)
    if line != HEADER:
        raise ProofError(f"proof does not start with {HEADER!r}")
    line, pos = _take_line(text, pos)
    extra = None
    if line.startswith("extra "):
        extra = _unb64(line[len("extra ") :], "extra data")
        line, pos = _take_line(text, pos)
    number = line[len("index ") :] if line.startswith("index ") else ""
    if not _DECIMAL.fullmatch(number) or int(number) > MAX_TREE_SIZE:
        raise ProofError(f"proof has no valid 'index N' line, got {line!r}")
    path: list[bytes] = []
    line, pos = _take_line(text, pos)
    while line:
        if len(path) == MAX_PATH_LENGTH:
            raise ProofError(f"proof has more than {MAX_PATH_LENGTH} path hashes")
        digest = _unb64(line, f"path hash {len(path)}")
        if len(digest) != HASH_SIZE:
            raise ProofError(f"path hash {len(path)} is {len(digest)} bytes, want {HASH_SIZE}")
        path.append(digest)
        line, pos = _take_line(text, pos)
    if pos == len(text):
        raise ProofError("proof has no checkpoint after the blank line")
    return ProofBundle(int(number), tuple(path), text[pos:], extra)


def verify_proof_bundle(
    text: str, entry_bytes: bytes, verifiers: Sequence[LogVerifierKey], origin: str
) -> Checkpoint:
    """Verify that ``entry_bytes`` is in the log ``origin``; return the signed checkpoint.

    Steps, in the tlog-proof verification order (no witness policy is applied):

    0. parse the bundle;
    1. compute the entry's leaf hash (RFC 9162 §2.1.1);
    2. verify the checkpoint: a log key's signature, its text, its origin;
    3. verify the inclusion proof against the checkpoint (RFC 9162 §2.1.3.2).

    ``extra`` is never trusted; read it with parse_proof_bundle if needed.

    :raises ProofError: at step 0 or 3, message prefixed with the step.
    :raises CheckpointError: at step 2, message prefixed with the step.
    """
    # (0): parse the bundle.
    try:
        bundle = parse_proof_bundle(text)
    except ProofError as exc:
        raise ProofError(f"step 0 (parse): {exc.detail}", code=exc.code) from exc
    # (1): the leaf hash commits to exactly these entry bytes.
    if not isinstance(entry_bytes, bytes):
        raise ProofError(f"step 1 (leaf hash): entry must be bytes, got {type(entry_bytes).__name__}")
    leaf = leaf_hash(entry_bytes)
    # (2): the checkpoint is signed by a log key and names the expected origin.
    try:
        checkpoint = verify_checkpoint(bundle.note, verifiers, origin)
    except CheckpointError as exc:
        raise CheckpointError(f"step 2 (checkpoint): {exc.detail}", code=exc.code) from exc
    # (3): the audit path leads from the leaf to the signed root.
    try:
        verify_inclusion(leaf, bundle.index, checkpoint.size, bundle.path, checkpoint.root_hash)
    except ProofError as exc:
        raise ProofError(f"step 3 (inclusion): {exc.detail}", code=exc.code) from exc
    return checkpoint
