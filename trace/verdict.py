"""The verdict of a scanned label: authentic, suspicious, counterfeit or recalled.

A staged driver (the sigstore ``verifier.py`` pattern): the steps are numbered, each
failure carries its stage and a stable code, and the consumer page shows one outcome
plus that code.

(1) the URI is a valid GS1 Digital Link with our signature parameters
(2) the signature verifies under a non-revoked producer key, at ``now``
(3) the serial was issued (the item exists)
(4) the item's hash chain is intact, every event is included in the log, and the
    checkpoint those proofs are against is signed by the log's key
(5) the batch is not recalled
(6) the label's scans do not look cloned (count, far-apart cities)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from labels.digital_link import DigitalLink, parse_digital_link
from labels.errors import LabelError
from labels.keys import LabelKeyring
from labels.signing import verify_label
from ledger import merkle, note
from ledger.errors import LedgerError
from ledger.verify import verify_subject
from trace import queries, scans
from trace.identifiers import item_subject

__all__ = ["AUTHENTIC", "SUSPICIOUS", "COUNTERFEIT", "RECALLED", "Verdict", "verify_scan"]

AUTHENTIC, SUSPICIOUS, COUNTERFEIT, RECALLED = "authentic", "suspicious", "counterfeit", "recalled"


@dataclass
class Verdict:
    """One outcome, the code that explains it, and what was found on the way."""

    outcome: str
    code: str
    stage: int
    detail: str = ""
    link: DigitalLink | None = None
    item: dict[str, Any] | None = None
    batch: dict[str, Any] | None = None
    product: dict[str, Any] | None = None
    history: queries.History | None = None
    summary: scans.ScanSummary | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def subject(self) -> str | None:
        """Return the item's ledger subject when the label named a valid item."""
        if self.link is None or not (self.link.gtin and self.link.lot and self.link.serial):
            return None
        return item_subject(self.link.gtin, self.link.lot, self.link.serial)


def _check_chain(session: Session, subject: str, history: queries.History,
                 log_keys: Sequence[note.LogVerifierKey], origin: str) -> None:
    """Raise ``LedgerError`` unless the item's chain and proofs verify (step 4)."""
    if history.checkpoint is None:
        raise LedgerError("the log has not signed a checkpoint yet")
    checkpoint = note.verify_checkpoint(history.checkpoint, log_keys, origin)
    if (checkpoint.size, checkpoint.root_hash) != (history.tree_size, history.root):
        raise LedgerError("the proofs are not against the signed checkpoint")
    for event in history.events:  # batch- and unit-level events reach the item too
        merkle.verify_inclusion(event.leaf_hash, event.index, history.tree_size, event.proof,
                                history.root)
    report = verify_subject(session, subject, log_keys, origin, earlier=0)
    problems = [p for stage in report.stages for p in stage.problems]
    if problems:
        raise LedgerError(problems[0])


def verify_scan(
    session: Session, uri: str, *, keyring: LabelKeyring,
    log_keys: Sequence[note.LogVerifierKey], origin: str, now: datetime,
) -> Verdict:
    """Return the verdict of the label ``uri`` at ``now`` (the scan itself is not recorded)."""
    # (1): parse the Digital Link.
    try:
        link = parse_digital_link(uri)
    except LabelError as exc:
        return Verdict(COUNTERFEIT, exc.code, 1, exc.detail)
    verdict = Verdict(AUTHENTIC, "ok", 0, link=link)
    # (2): the producer's signature.
    try:
        verify_label(link, keyring, now)
    except LabelError as exc:
        verdict.outcome, verdict.code, verdict.stage, verdict.detail = (
            COUNTERFEIT, exc.code, 2, exc.detail)
        return verdict
    # (3): the serial was issued.
    gtin, lot, serial = link.gtin, link.lot, link.serial
    verdict.item = queries.find_item(session, gtin, lot, serial) if gtin and serial else None
    if verdict.item is None:
        verdict.outcome, verdict.code, verdict.stage = COUNTERFEIT, "trace.unknown_serial", 3
        verdict.detail = f"serial {serial} of {gtin}/{lot} was never issued"
        return verdict
    verdict.batch = queries.find_batch(session, gtin, lot)
    verdict.product = queries.find_product(session, gtin)
    verdict.summary = scans.summary_of(session, verdict.subject or "")
    # (4): chain intact and included in the signed log.
    try:
        verdict.history = queries.item_history(session, gtin, lot, serial)
        _check_chain(session, verdict.subject or "", verdict.history, log_keys, origin)
    except LedgerError as exc:
        verdict.outcome, verdict.code, verdict.stage = SUSPICIOUS, "ledger.unverifiable", 4
        verdict.detail = exc.detail
        return verdict
    # (5): not recalled.
    if verdict.batch is not None and verdict.batch.get("status") == "recalled":
        verdict.outcome, verdict.code, verdict.stage = RECALLED, "trace.recalled", 5
        return verdict
    # (6): scans do not look cloned.
    reasons = scans.suspicion(verdict.summary)
    if reasons:
        verdict.outcome, verdict.code, verdict.stage = SUSPICIOUS, reasons[0].code, 6
        verdict.detail = "; ".join(r.detail for r in reasons)
    return verdict
