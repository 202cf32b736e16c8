"""Label signing keys, their public records, and the keyring verifiers use.

Label keys are Ed25519 (RFC 8032) and have their own types, distinct from the
ledger's log key, so one can never be passed where the other is expected.

Key id (a hint only, never an identity): the first 4 bytes of
SHA-256(raw 32-byte public key), base64url without padding (6 characters).
Collisions are expected and harmless: verifiers try every key with the id.

Key status:

* ``active``  -- signs new labels and verifies;
* ``retired`` -- signs nothing new, still verifies labels it signed;
* ``revoked`` -- verifies nothing (labels under it are refused).

A key verifies at time ``now`` only if its status is not revoked and
``not_before <= now < not_after`` (``not_after`` None = open-ended).
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import enum
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from labels.errors import LabelError

__all__ = [
    "KeyStatus",
    "LabelKey",
    "LabelKeyring",
    "LabelSigningKey",
    "b64url",
    "b64url_decode",
    "key_id_for",
]


def b64url(data: bytes) -> str:
    """Return base64url of ``data`` without padding (RFC 4648 §5)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str, *, length: int, what: str) -> bytes:
    """Decode strict, canonical unpadded base64url into exactly ``length`` bytes.

    Non-canonical encodings (non-zero trailing bits, padding, other alphabets)
    are refused so that one value has exactly one textual form.

    :raises LabelError: naming ``what`` and the reason.
    """
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise LabelError(f"{what}: not base64url") from None
    if len(raw) != length:
        raise LabelError(f"{what}: must decode to {length} bytes, got {len(raw)}")
    if b64url(raw) != text:
        raise LabelError(f"{what}: not canonical unpadded base64url")
    return raw


def key_id_for(public_key: bytes) -> str:
    """Return the 6-character key id of a raw Ed25519 public key: b64url(SHA-256(pk)[:4])."""
    return b64url(hashlib.sha256(public_key).digest()[:4])


class KeyStatus(enum.Enum):
    """Lifecycle state of a label key."""

    ACTIVE = "active"
    RETIRED = "retired"
    REVOKED = "revoked"


def _utc(t: _dt.datetime, what: str) -> _dt.datetime:
    if t.tzinfo is None:
        raise LabelError(f"{what} must be timezone-aware, got naive {t.isoformat()}")
    return t.astimezone(_dt.UTC)


@dataclass(frozen=True)
class LabelKey:
    """The public record of a label key, as a keyring and the key list hold it."""

    public_key: bytes
    producer: str
    status: KeyStatus
    not_before: _dt.datetime
    not_after: _dt.datetime | None = None

    def __post_init__(self) -> None:
        """Check the key length and that times are aware and ordered.

        :raises LabelError: if not.
        """
        if len(self.public_key) != 32:
            raise LabelError(f"Ed25519 public key must be 32 bytes, got {len(self.public_key)}")
        object.__setattr__(self, "not_before", _utc(self.not_before, "not_before"))
        if self.not_after is not None:
            object.__setattr__(self, "not_after", _utc(self.not_after, "not_after"))
            if self.not_after <= self.not_before:
                raise LabelError(
                    f"key {self.key_id}: not_after {self.not_after} is not after not_before"
                )

    @property
    def key_id(self) -> str:
        """The 6-character key id (a hint)."""
        return key_id_for(self.public_key)

    def valid_at(self, now: _dt.datetime) -> bool:
        """Return True if ``now`` lies in ``[not_before, not_after)``, whatever the status."""
        now = _utc(now, "now")
        return self.not_before <= now and (self.not_after is None or now < self.not_after)


class LabelSigningKey:
    """A private Ed25519 key that signs labels (never a ledger log key)."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self.public_key: bytes = private_key.public_key().public_bytes(
            Encoding.Raw, PublicFormat.Raw
        )
        self.key_id: str = key_id_for(self.public_key)

    @classmethod
    def generate(cls) -> LabelSigningKey:
        """Return a fresh random key."""
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> LabelSigningKey:
        """Return the key whose RFC 8032 32-byte private seed is ``seed``.

        :raises LabelError: if ``seed`` is not 32 bytes.
        """
        if len(seed) != 32:
            raise LabelError(f"Ed25519 seed must be 32 bytes, got {len(seed)}")
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    def seed(self) -> bytes:
        """Return the 32-byte private seed (handle with care: it is the secret)."""
        return self._key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())

    def sign(self, message: bytes) -> bytes:
        """Return the 64-byte Ed25519 signature of ``message``."""
        return self._key.sign(message)

    def record(
        self,
        producer: str,
        not_before: _dt.datetime,
        not_after: _dt.datetime | None = None,
        status: KeyStatus = KeyStatus.ACTIVE,
    ) -> LabelKey:
        """Return the public :class:`LabelKey` record of this key."""
        return LabelKey(self.public_key, producer, status, not_before, not_after)

    def __repr__(self) -> str:
        return f"LabelSigningKey(key_id={self.key_id!r})"


class LabelKeyring:
    """The public label keys a verifier trusts, looked up by key id (a hint)."""

    def __init__(self, keys: Iterable[LabelKey] = ()) -> None:
        self._by_id: dict[str, list[LabelKey]] = {}
        for k in keys:
            self.add(k)

    def add(self, key: LabelKey) -> None:
        """Add ``key``; a second record for the same public key replaces the first."""
        bucket = self._by_id.setdefault(key.key_id, [])
        bucket[:] = [k for k in bucket if k.public_key != key.public_key] + [key]

    def candidates(self, key_id: str) -> list[LabelKey]:
        """Return every key whose id is ``key_id`` (possibly several: ids collide)."""
        return list(self._by_id.get(key_id, ()))

    def __iter__(self) -> Iterator[LabelKey]:
        return (k for bucket in self._by_id.values() for k in bucket)

    def __len__(self) -> int:
        return sum(len(b) for b in self._by_id.values())
