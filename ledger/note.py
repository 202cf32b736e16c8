"""C2SP signed notes and tlog checkpoints, with Ed25519 log keys.

A signed note (C2SP ``signed-note.md``) is a text ending in a newline, a blank
line, then one or more lines ``— <key name> <base64(key ID || signature)>``.  A
checkpoint (C2SP ``tlog-checkpoint.md``) is a note whose text is the log's origin,
tree size and root hash, one per line, plus optional extension lines.

Parse, then verify (STYLE 11): :func:`parse_checkpoint` only reads the text;
:func:`verify_note` checks signatures; :func:`verify_checkpoint` does both plus the
origin check.  Key IDs are hints: every known key with the signature's name and
ID is tried (STYLE 14).  The log's keys have their own types, LogSigningKey and
LogVerifierKey, so that label keys cannot be passed where log keys are expected.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger.errors import CheckpointError
from ledger.merkle import HASH_SIZE, MAX_TREE_SIZE

__all__ = [
    "SIG_TYPE_ED25519",
    "MAX_SIGNATURES",
    "MIN_SIGNATURES_ACCEPTED",
    "SIGNATURE_PREFIX",
    "Checkpoint",
    "VerifiedNote",
    "NoteVerifier",
    "NoteSigner",
    "LogVerifierKey",
    "LogSigningKey",
    "key_id",
    "format_checkpoint",
    "parse_checkpoint",
    "sign_note",
    "verify_note",
    "verify_checkpoint",
    "generate_signer",
    "signer_from_private_bytes",
    "signer_from_skey",
]

# C2SP signed-note §Signature types: 0x01 is Ed25519 over the note text.
SIG_TYPE_ED25519 = 0x01
# C2SP signed-note §Format: verifiers "MUST accept at least up to 16 signatures"
# and SHOULD cap them; golang.org/x/mod/sumdb/note refuses more than 100.
MIN_SIGNATURES_ACCEPTED = 16
MAX_SIGNATURES = 100
# C2SP signed-note §Format: em dash (U+2014) then a space opens each signature line.
SIGNATURE_PREFIX = "\u2014 "
# golang.org/x/mod/sumdb/note: encoded signer keys start with this literal text.
_SKEY_PREFIX = "PRIVATE+KEY+"
_ED25519_SIG_SIZE = 64
_HEX8 = re.compile(r"[0-9a-f]{8}", re.ASCII)
# C2SP tlog-checkpoint §Note text: tree size in ASCII decimal, no leading zeroes.
_DECIMAL = re.compile(r"0|[1-9][0-9]*", re.ASCII)

_V = TypeVar("_V", bound="NoteVerifier")


def _b64decode(text: str, what: str) -> bytes:
    """Decode standard base64 (RFC 4648 §4) and insist on the canonical encoding."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise CheckpointError(f"{what} is not valid base64: {text!r}") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise CheckpointError(f"{what} is not canonical base64: {text!r}")
    return raw


def _check_name(name: str) -> None:
    """C2SP signed-note: key names are non-empty, without Unicode spaces or '+'."""
    if not isinstance(name, str) or not name or "+" in name or any(c.isspace() for c in name):
        raise CheckpointError(f"key name {name!r} is empty or contains a space or '+'")
    if any(ord(c) < 0x20 for c in name):
        raise CheckpointError(f"key name {name!r} contains control characters")


def key_id(name: str, sig_type: int, public_key: bytes) -> int:
    """Return the uint32 key ID, SHA-256(name || 0x0A || type || key)[:4] (C2SP signed-note)."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([sig_type]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


@dataclass(frozen=True)
class Checkpoint:
    """A log's tree head: origin, size and root hash (C2SP tlog-checkpoint)."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()


class VerifiedNote(NamedTuple):
    """The text of a note and the names of the known keys whose signatures verified."""

    text: str
    signers: tuple[str, ...]


class NoteVerifier:
    """An Ed25519 note verifier key: ``name``, ``key_id`` and the public key."""

    def __init__(self, name: str, public_key: Ed25519PublicKey) -> None:
        """Wrap an Ed25519 public key under a key name.

        :raises CheckpointError: if the name is not a valid key name.
        """
        _check_name(name)
        self.name = name
        self.public_key = public_key
        self._raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.key_id = key_id(name, SIG_TYPE_ED25519, self._raw)

    @classmethod
    def from_vkey(cls: type[_V], vkey: str) -> _V:
        """Parse a verifier key ``name+hex(keyID)+base64(0x01 || pubkey)``.

        :raises CheckpointError: if it is malformed, not Ed25519, or its key ID is wrong.
        """
        parts = vkey.split("+", 2) if isinstance(vkey, str) else []
        if len(parts) != 3 or not _HEX8.fullmatch(parts[1]):
            raise CheckpointError(f"verifier key {vkey!r} is not name+hex8+base64")
        name, hex_id, b64 = parts
        _check_name(name)
        key = _b64decode(b64, "verifier key")
        if len(key) != 33 or key[0] != SIG_TYPE_ED25519:
            raise CheckpointError(f"verifier key {vkey!r} is not an Ed25519 (type 0x01) key")
        if key_id(name, key[0], key[1:]) != int(hex_id, 16):
            raise CheckpointError(f"verifier key {vkey!r} has a key ID that does not match its key")
        return cls(name, Ed25519PublicKey.from_public_bytes(key[1:]))

    @property
    def vkey(self) -> str:
        """Return the encoded verifier key ``name+hex(keyID)+base64(0x01 || pubkey)``."""
        encoded = base64.b64encode(bytes([SIG_TYPE_ED25519]) + self._raw).decode("ascii")
        return f"{self.name}+{self.key_id:08x}+{encoded}"

    def verifies(self, message: bytes, signature: bytes) -> bool:
        """Return whether ``signature`` is this key's Ed25519 signature of ``message``."""
        try:
            self.public_key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.vkey!r})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and isinstance(other, NoteVerifier) and other.vkey == self.vkey

    def __hash__(self) -> int:
        return hash((type(self), self.vkey))


class NoteSigner:
    """An Ed25519 note signer key: ``name``, ``key_id`` and the private key."""

    verifier_type: type[NoteVerifier] = NoteVerifier

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        """Wrap an Ed25519 private key under a key name.

        :raises CheckpointError: if the name is not a valid key name.
        """
        self.name = name
        self._private_key = private_key
        self._verifier = self.verifier_type(name, private_key.public_key())
        self.key_id = self._verifier.key_id

    def verifier(self) -> NoteVerifier:
        """Return the matching verifier key."""
        return self._verifier

    @property
    def vkey(self) -> str:
        """Return the encoded verifier key of this signer."""
        return self._verifier.vkey

    def sign(self, message: bytes) -> bytes:
        """Return the Ed25519 signature (RFC 8032) of ``message``."""
        return self._private_key.sign(message)

    def private_bytes(self) -> bytes:
        """Return the raw 32-byte Ed25519 private key (seed); keep it secret."""
        return self._private_key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )

    def to_skey(self) -> str:
        """Return ``PRIVATE+KEY+name+hex(keyID)+base64(0x01 || seed)``; keep it secret."""
        encoded = base64.b64encode(bytes([SIG_TYPE_ED25519]) + self.private_bytes()).decode("ascii")
        return f"{_SKEY_PREFIX}{self.name}+{self.key_id:08x}+{encoded}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, key_id={self.key_id:08x})"


class LogVerifierKey(NoteVerifier):
    """A transparency log's checkpoint verifier key (distinct from label keys)."""


class LogSigningKey(NoteSigner):
    """A transparency log's checkpoint signing key (distinct from label keys)."""

    verifier_type = LogVerifierKey

    def verifier(self) -> LogVerifierKey:
        """Return the matching log verifier key."""
        verifier = self._verifier
        assert isinstance(verifier, LogVerifierKey)
        return verifier


def generate_signer(name: str) -> LogSigningKey:
    """Generate a new Ed25519 log signing key named ``name``.

    :raises CheckpointError: if the name is not a valid key name.
    """
    return LogSigningKey(name, Ed25519PrivateKey.generate())


def signer_from_private_bytes(name: str, raw: bytes) -> LogSigningKey:
    """Load a log signing key from its raw 32-byte Ed25519 private key.

    :raises CheckpointError: if ``raw`` is not 32 bytes or the name is invalid.
    """
    if not isinstance(raw, bytes) or len(raw) != 32:
        raise CheckpointError("an Ed25519 private key is 32 bytes")
    return LogSigningKey(name, Ed25519PrivateKey.from_private_bytes(raw))


def signer_from_skey(skey: str) -> LogSigningKey:
    """Load a log signing key from ``PRIVATE+KEY+name+hex(keyID)+base64(0x01 || seed)``.

    :raises CheckpointError: if it is malformed or its key ID does not match the key.
    """
    if not isinstance(skey, str) or not skey.startswith(_SKEY_PREFIX):
        raise CheckpointError("signer key does not start with PRIVATE+KEY+")
    parts = skey[len(_SKEY_PREFIX) :].split("+", 2)
    if len(parts) != 3 or not _HEX8.fullmatch(parts[1]):
        raise CheckpointError("signer key is not PRIVATE+KEY+name+hex8+base64")
    name, hex_id, b64 = parts
    _check_name(name)
    key = _b64decode(b64, "signer key")
    if len(key) != 33 or key[0] != SIG_TYPE_ED25519:
        raise CheckpointError("signer key is not an Ed25519 (type 0x01) key")
    signer = signer_from_private_bytes(name, key[1:])
    if signer.key_id != int(hex_id, 16):
        raise CheckpointError("signer key has a key ID that does not match its key")
    return signer


def _check_text(text: str) -> None:
    """C2SP signed-note §Format: UTF-8, no control characters but newline, ends in newline."""
    if not isinstance(text, str) or not text.endswith("\n"):
        raise CheckpointError("note text must be a string ending in a newline")
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise CheckpointError("note contains control characters other than newline")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise CheckpointError("note is not valid UTF-8") from None


def format_checkpoint(cp: Checkpoint) -> str:
    """Return the checkpoint note text: origin, size, base64 root, extensions (C2SP tlog-checkpoint).

    :raises CheckpointError: if a field cannot be written unambiguously.
    """
    if not isinstance(cp.origin, str) or not cp.origin or "\n" in cp.origin:
        raise CheckpointError(f"origin {cp.origin!r} must be a non-empty single line")
    if type(cp.size) is not int or not 0 <= cp.size <= MAX_TREE_SIZE:
        raise CheckpointError(f"tree size {cp.size!r} is not a uint64")
    if not isinstance(cp.root_hash, bytes) or len(cp.root_hash) != HASH_SIZE:
        raise CheckpointError(f"root hash must be {HASH_SIZE} bytes")
    for ext in cp.extensions:
        if not isinstance(ext, str) or not ext or "\n" in ext:
            raise CheckpointError(f"extension line {ext!r} must be a non-empty single line")
    root = base64.b64encode(cp.root_hash).decode("ascii")
    text = "".join(f"{line}\n" for line in (cp.origin, str(cp.size), root, *cp.extensions))
    _check_text(text)
    return text


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse checkpoint note text (C2SP tlog-checkpoint §Note text); check no signature.

    :raises CheckpointError: if a line is missing or empty, the size is not a
        decimal uint64 without leading zeroes, or the root is not 32 bytes of base64.
    """
    _check_text(text)
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError(f"checkpoint has {len(lines)} lines, needs at least 3")
    if any(not line for line in lines):
        raise CheckpointError("checkpoint has an empty line")
    origin, size_text, root_text, *extensions = lines
    if not _DECIMAL.fullmatch(size_text) or int(size_text) > MAX_TREE_SIZE:
        raise CheckpointError(f"checkpoint size {size_text!r} is not a decimal uint64")
    root = _b64decode(root_text, "checkpoint root hash")
    if len(root) != HASH_SIZE:
        raise CheckpointError(f"checkpoint root hash is {len(root)} bytes, want {HASH_SIZE}")
    return Checkpoint(origin, int(size_text), root, tuple(extensions))


def sign_note(text: str, signer: NoteSigner) -> str:
    """Sign ``text`` and return the signed note (C2SP signed-note §Format).

    :raises CheckpointError: if the text does not end in a newline or holds
        control characters.
    """
    _check_text(text)
    signature = signer.key_id.to_bytes(4, "big") + signer.sign(text.encode("utf-8"))
    return f"{text}\n{SIGNATURE_PREFIX}{signer.name} {base64.b64encode(signature).decode('ascii')}\n"


def _split_note(note: str) -> tuple[str, list[str]]:
    """Split a note at its last blank line into text and signature lines."""
    if not isinstance(note, str):
        raise CheckpointError(f"note must be a string, got {type(note).__name__}")
    split = note.rfind("\n\n")
    if split < 0:
        raise CheckpointError("note has no blank line before its signatures")
    text, block = note[: split + 1], note[split + 2 :]
    _check_text(note)
    if not block:
        raise CheckpointError("note has no signature lines")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise CheckpointError(f"note has {len(lines)} signatures, more than {MAX_SIGNATURES}")
    return text, lines


def _parse_signature_line(line: str) -> tuple[str, int, bytes]:
    """Parse ``— <name> <base64(keyID || sig)>`` into (name, key ID, signature)."""
    if not line.startswith(SIGNATURE_PREFIX):
        raise CheckpointError(f"signature line {line!r} does not start with an em dash and a space")
    name, sep, b64 = line[len(SIGNATURE_PREFIX) :].partition(" ")
    if not sep:
        raise CheckpointError(f"signature line {line!r} has no signature")
    _check_name(name)
    raw = _b64decode(b64, f"signature of {name}")
    if len(raw) < 5:
        raise CheckpointError(f"signature of {name} is too short")
    return name, int.from_bytes(raw[:4], "big"), raw[4:]


def verify_note(note: str, verifiers: Sequence[NoteVerifier]) -> VerifiedNote:
    """Verify a signed note; return its text and the names of the keys that signed it.

    Follows C2SP signed-note §Signatures: signatures from unknown (name, key ID)
    pairs are ignored; for a known pair every matching key is tried, since a key
    ID is only a hint; a known key whose signature fails rejects the whole note;
    and a note with no verified signature is rejected.

    :raises CheckpointError: if the note is malformed, a known key's signature
        is invalid, or no known key signed it.
    """
    text, lines = _split_note(note)
    message = text.encode("utf-8")
    signers: list[str] = []
    for line in lines:
        name, kid, signature = _parse_signature_line(line)
        candidates = [v for v in verifiers if v.name == name and v.key_id == kid]
        if not candidates:
            continue
        if not any(v.verifies(message, signature) for v in candidates):
            raise CheckpointError(f"invalid signature for key {name}+{kid:08x}")
        if name not in signers:
            signers.append(name)
    if not signers:
        raise CheckpointError("note has no signature from a known key")
    return VerifiedNote(text, tuple(signers))


def verify_checkpoint(note: str, verifiers: Sequence[LogVerifierKey], origin: str) -> Checkpoint:
    """Verify a signed checkpoint from the log ``origin`` and return it.

    Steps: (1) a log key verifies the note, (2) the text parses as a checkpoint,
    (3) its origin is the expected one (C2SP tlog-checkpoint; tlog-proof order).

    :raises CheckpointError: naming the step that failed.
    :raises TypeError: if a verifier is not a LogVerifierKey.
    """
    if not all(isinstance(v, LogVerifierKey) for v in verifiers):
        raise TypeError("checkpoints are verified with LogVerifierKey keys only")
    try:
        text, _ = verify_note(note, verifiers)
    except CheckpointError as exc:
        raise CheckpointError(f"signature: {exc.detail}", code=exc.code) from exc
    try:
        checkpoint = parse_checkpoint(text)
    except CheckpointError as exc:
        raise CheckpointError(f"text: {exc.detail}", code=exc.code) from exc
    if checkpoint.origin != origin:
        raise CheckpointError(f"origin: checkpoint origin {checkpoint.origin!r} is not {origin!r}")
    return checkpoint
