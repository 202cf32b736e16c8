"""Verify one object's record in the log, in numbered stages, as an inspector would.

(1) the latest checkpoint is signed by the log's key and names this origin
(2) the object's hash chain: each entry's bytes match its leaf hash and its
    ``prev`` names the entry before it about the same object, up to the chain head
(3) every entry of the chain is included in the tree of the signed checkpoint
(4) earlier checkpoints the log signed are consistent with the latest one
Every stage runs even after a failure, so the report shows all that is wrong.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import merkle, note, store
from ledger.errors import LedgerError
from ledger.models import CheckpointRow, ObjectHead

__all__ = ["Stage", "Report", "verify_subject"]


@dataclass
class Stage:
    """One numbered stage of a verification and what it found."""

    number: int
    name: str
    ok: bool = True
    checked: int = 0
    problems: list[str] = field(default_factory=list)

    def fail(self, problem: str) -> None:
        """Record a problem (the stage fails)."""
        self.ok = False
        self.problems.append(problem)


@dataclass
class Report:
    """The stages of one verification; ``ok`` when every stage passed."""

    subject: str
    tree_size: int
    stages: list[Stage]

    @property
    def ok(self) -> bool:
        """Return True when every stage passed."""
        return all(s.ok for s in self.stages)


def _prev(data: bytes) -> bytes | None:
    value = json.loads(data)["prev"]
    return base64.b64decode(value) if value is not None else None


def verify_subject(session: Session, subject: str, log_keys: Sequence[note.LogVerifierKey],
                   origin: str, earlier: int = 8) -> Report:
    """Verify ``subject``'s chain and proofs against the latest signed checkpoint.

    ``earlier`` is how many earlier checkpoints (the most recent ones, plus the
    first) are checked for consistency with the latest.
    """
    signed, chain, included, consistent = (Stage(1, "checkpoint signature"),
                                           Stage(2, "hash chain"), Stage(3, "inclusion proofs"),
                                           Stage(4, "consistency with earlier checkpoints"))
    report = Report(subject, 0, [signed, chain, included, consistent])
    try:
        checkpoint = note.verify_checkpoint(store.latest_checkpoint(session), log_keys, origin)
        signed.checked = 1
    except LedgerError as exc:
        signed.fail(exc.detail)
        return report
    size, root = checkpoint.size, checkpoint.root_hash
    report.tree_size = size
    previous: bytes | None = None
    rows = [r for r in store.entries_of(session, subject) if r.idx < size]
    for row in rows:
        chain.checked += 1
        if merkle.leaf_hash(row.data) != row.leaf_hash:
            chain.fail(f"entry {row.idx}: bytes do not match the stored leaf hash")
        if _prev(row.data) != previous:
            chain.fail(f"entry {row.idx}: prev does not name the previous entry of {subject}")
        previous = row.leaf_hash
        try:
            merkle.verify_inclusion(merkle.leaf_hash(row.data), row.idx, size,
                                    store.inclusion_proof(session, row.idx, size), root)
            included.checked += 1
        except LedgerError as exc:
            included.fail(f"entry {row.idx}: {exc.detail}")
    head = session.get(ObjectHead, subject)
    if rows and (head is None or head.last_leaf_hash != rows[-1].leaf_hash) and (
            head is None or head.last_idx < size):
        chain.fail("the chain head does not end at the last entry (an entry was dropped?)")
    _check_consistency(session, consistent, size, root, earlier)
    return report


def _check_consistency(session: Session, stage: Stage, size: int, root: bytes, earlier: int) -> None:
    if earlier <= 0:
        return
    rows = list(session.scalars(select(CheckpointRow).where(CheckpointRow.size < size)
                                .order_by(CheckpointRow.size.desc()).limit(earlier)))
    first = session.scalars(select(CheckpointRow).order_by(CheckpointRow.size).limit(1)).first()
    if first is not None and first.size < size and first not in rows:
        rows.append(first)
    for row in rows:
        try:
            path = store.consistency_proof(session, row.size, size)
            merkle.verify_consistency(row.size, size, path, row.root, root)
            stage.checked += 1
        except LedgerError as exc:
            stage.fail(f"checkpoint at size {row.size}: {exc.detail}")
