"""Producers' label signing keys: held by the service, encrypted at rest, rotated through the ledger.

- The private seed is encrypted with AES-256-GCM under a key derived (HKDF-SHA256)
  from the instance's ``MASTER_KEY``; the public key is the associated data, so a
  ciphertext cannot be moved to another key's row.  Secrets never enter the ledger.
- Creating, retiring and revoking a key are ledger entries about ``labelkey:<pub>``;
  the public key table is their projection (rebuilt by ``flask ledger replay``).
- Rotation: a new key for a producer retires its active one.  A retired key still
  verifies the labels it signed; a revoked key verifies nothing.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Sequence
from datetime import datetime, timezone

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import DateTime, LargeBinary, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from labels.keys import KeyStatus, LabelKey, LabelKeyring, LabelSigningKey, b64url
from ledger import replay
from ledger.actor import Actor
from ledger.base import Base
from ledger.entry import format_time
from ledger.errors import DomainError
from ledger.sequencer import LogWriter, NewEntry

__all__ = [
    "LabelKeyRow", "LabelKeySecret", "LabelKeyError", "create_key", "retire_key", "revoke_key",
    "signing_key", "keyring",
]


class LabelKeyError(DomainError):
    """A label key operation was refused."""

    code = "labels.key"
    title_en = "Label key refused"
    title_zh = "标签密钥操作被拒绝"


class LabelKeyRow(Base):
    """Public record of a label key (projection of ``labels.key.*`` entries)."""

    __tablename__ = "trace_label_keys"

    public_key: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(8), index=True)
    producer: Mapped[str] = mapped_column(String(200), index=True)
    status: Mapped[str] = mapped_column(String(16))
    not_before: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    not_after: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class LabelKeySecret(Base):
    """The encrypted private seed of a label key (primary data, never in the ledger)."""

    __tablename__ = "trace_label_key_secrets"

    public_key: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


def _aead(master_key: str) -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
               info=b"trace label signing key v1").derive(master_key.encode("utf-8"))
    return AESGCM(key)


def _subject(public_key: bytes) -> str:
    return f"labelkey:{b64url(public_key)}"


def _entry(kind: str, actor: Actor, now: datetime, public_key: bytes, **body: str | None) -> NewEntry:
    return NewEntry(kind, format_time(now), actor.id, _subject(public_key),
                    {"public_key": b64url(public_key), **body})


def create_key(writer: LogWriter, actor: Actor, producer: str, master_key: str,
               now: datetime) -> LabelSigningKey:
    """Create a producer's new signing key, retiring its active one, and return it.

    :raises LabelKeyError: when the actor may not manage this producer's keys.
    """
    if actor.role not in ("admin", "system") and not (actor.role == "producer"
                                                      and actor.id == producer):
        raise LabelKeyError(f"{actor.id} may not create keys for {producer}",
                            code="labels.key.forbidden")
    key = LabelSigningKey.generate()
    nonce = os.urandom(12)
    sealed = nonce + _aead(master_key).encrypt(nonce, key.seed(), key.public_key)
    entries = [
        _entry("labels.key.retired", actor, now, row.public_key)
        for row in writer.session.scalars(select(LabelKeyRow).where(
            LabelKeyRow.producer == producer, LabelKeyRow.status == KeyStatus.ACTIVE.value))
    ]
    entries.append(_entry("labels.key.created", actor, now, key.public_key,
                          producer=producer, key_id=key.key_id))
    appended = writer.append(entries)
    writer.session.add(LabelKeySecret(public_key=key.public_key, sealed=sealed))
    _apply(writer.session, [replay.ReplayedEntry(a.index, a.leaf_hash, _decode(a.data))
                            for a in appended])
    return key


def retire_key(writer: LogWriter, actor: Actor, public_key: bytes, now: datetime) -> None:
    """Retire a key: it signs nothing new and still verifies what it signed."""
    _change(writer, actor, public_key, now, "labels.key.retired", None)


def revoke_key(writer: LogWriter, actor: Actor, public_key: bytes, now: datetime,
               reason: str) -> None:
    """Revoke a key (compromised): labels under it no longer verify."""
    _change(writer, actor, public_key, now, "labels.key.revoked", reason)


def _change(writer: LogWriter, actor: Actor, public_key: bytes, now: datetime, kind: str,
            reason: str | None) -> None:
    row = writer.session.get(LabelKeyRow, public_key)
    if row is None:
        raise LabelKeyError(f"no label key {b64url(public_key)}", code="labels.key.unknown")
    if actor.role not in ("admin", "system", "inspector") and actor.id != row.producer:
        raise LabelKeyError(f"{actor.id} may not change keys of {row.producer}",
                            code="labels.key.forbidden")
    if row.status == KeyStatus.REVOKED.value:
        raise LabelKeyError("the key is already revoked", code="labels.key.revoked")
    body = {"reason": reason} if reason else {}
    appended = writer.append([_entry(kind, actor, now, public_key, **body)])
    _apply(writer.session, [replay.ReplayedEntry(a.index, a.leaf_hash, _decode(a.data))
                            for a in appended])


def signing_key(session: Session, producer: str, master_key: str) -> LabelSigningKey:
    """Return the producer's active signing key, decrypted.

    :raises LabelKeyError: when the producer has no active key.
    """
    row = session.scalars(select(LabelKeyRow).where(
        LabelKeyRow.producer == producer, LabelKeyRow.status == KeyStatus.ACTIVE.value)).first()
    secret = session.get(LabelKeySecret, row.public_key) if row is not None else None
    if row is None or secret is None:
        raise LabelKeyError(f"producer {producer} has no active label key",
                            code="labels.key.none_active")
    nonce, ciphertext = secret.sealed[:12], secret.sealed[12:]
    return LabelSigningKey.from_seed(_aead(master_key).decrypt(nonce, ciphertext, row.public_key))


def _utc(when: datetime | None) -> datetime | None:
    # SQLite returns naive datetimes for DateTime(timezone=True); we store UTC.
    if when is None or when.tzinfo is not None:
        return when
    return when.replace(tzinfo=timezone.utc)


def keyring(session: Session) -> LabelKeyring:
    """Return every label key's public record (active, retired and revoked)."""
    return LabelKeyring(
        LabelKey(r.public_key, r.producer, KeyStatus(r.status), _utc(r.not_before) or r.not_before,
                 _utc(r.not_after))
        for r in session.scalars(select(LabelKeyRow))
    )


def _decode(data: bytes) -> dict:  # type: ignore[type-arg]
    import json

    decoded: dict = json.loads(data)  # type: ignore[type-arg]
    return decoded


def _apply(session: Session, entries: Sequence[replay.ReplayedEntry]) -> None:
    for entry in entries:
        kind, body = entry.envelope["kind"], entry.envelope["body"]
        if not kind.startswith("labels.key."):
            continue
        public_key = base64.urlsafe_b64decode(body["public_key"] + "=")
        when = datetime.fromisoformat(entry.envelope["time"]).astimezone(timezone.utc)
        if kind == "labels.key.created":
            session.add(LabelKeyRow(public_key=public_key, key_id=body["key_id"],
                                    producer=body["producer"], status=KeyStatus.ACTIVE.value,
                                    not_before=when, not_after=None))
            session.flush()
            continue
        row = session.get(LabelKeyRow, public_key)
        if row is not None:
            row.status = (KeyStatus.RETIRED if kind == "labels.key.retired"
                          else KeyStatus.REVOKED).value
    session.flush()


replay.register(replay.Projection("trace.label_keys", [LabelKeyRow.__table__], _apply))  # type: ignore[list-item]
