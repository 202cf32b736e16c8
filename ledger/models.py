"""Tables of the log: the head row, the entries, the hash tiles, per-object heads, checkpoints.

Layout (see docs/ledger.md):
- ``ledger_head``: one row; size, root, the compact range (right-edge hashes) and the
  latest signed checkpoint, so that an append and a new root need no other reads.
- ``ledger_entries``: the exact leaf bytes by index, with their subject for history queries.
- ``ledger_tiles``: C2SP tlog-tiles rows of up to 256 hashes; tile level L holds the tree
  level 8·L hashes.  A proof reads O(log n / 8) rows by primary key.
- ``ledger_objects``: the last leaf hash of every object's hash chain (the next ``prev``).
- ``ledger_checkpoints``: every signed checkpoint, by tree size.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ledger.base import Base

__all__ = ["LogHead", "LogEntry", "Tile", "ObjectHead", "CheckpointRow"]

HEAD_ID = 1
# The longest subject an entry may name (ledger.entry allows 256 characters).
SUBJECT_LENGTH = 256


class LogHead(Base):
    """The single head row of the log; locked by every writer."""

    __tablename__ = "ledger_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    origin: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    frontier: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    checkpoint: Mapped[str | None] = mapped_column(Text, nullable=True)


class LogEntry(Base):
    """One leaf: its index, its exact canonical bytes and what it is about."""

    __tablename__ = "ledger_entries"

    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    subject: Mapped[str] = mapped_column(String(SUBJECT_LENGTH))
    kind: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (Index("ix_ledger_entries_subject_idx", "subject", "idx"),)


class Tile(Base):
    """A C2SP tlog-tiles tile: up to 256 concatenated 32-byte hashes."""

    __tablename__ = "ledger_tiles"

    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hashes: Mapped[bytes] = mapped_column(LargeBinary)


class ObjectHead(Base):
    """The end of one object's hash chain: the leaf hash the next entry's ``prev`` names."""

    __tablename__ = "ledger_objects"

    subject: Mapped[str] = mapped_column(String(SUBJECT_LENGTH), primary_key=True)
    last_idx: Mapped[int] = mapped_column(BigInteger)
    last_leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    count: Mapped[int] = mapped_column(BigInteger)


class CheckpointRow(Base):
    """A checkpoint the log signed, as the exact signed-note text."""

    __tablename__ = "ledger_checkpoints"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)
    signed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
