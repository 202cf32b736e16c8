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

``verify_scan`` runs every stage against the database.  ``ScanCache.verify`` gives the same
verdict for the scan page without repeating per request what cannot have changed: stages
(3)-(5) depend only on the item's and its batch's events (``queries.item_state``, read per
request: one query), and stage (2) only on the URI and the keyring (reloaded when the log's
size or root changes: one primary-key lookup per request), except for the key's validity
period, which is checked at ``now`` on every request.  Stage (6) reads the scan counts per request
(``conclude``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from labels.digital_link import DigitalLink, parse_digital_link
from labels.errors import (DigitalLinkError, LabelError, MalformedSignatureError, SignatureError,
                           UnknownKeyError)
from labels.keys import KeyStatus, LabelKey, LabelKeyring
from labels.signing import verify_label
from ledger import merkle, note
from ledger.errors import LedgerError
from ledger.models import HEAD_ID, LogHead
from ledger.verify import verify_subject
from trace import queries, scans
from trace.identifiers import item_subject

__all__ = ["AUTHENTIC", "SUSPICIOUS", "COUNTERFEIT", "RECALLED", "Verdict", "verify_scan",
           "BoundedCache", "ScanCache", "LogState", "log_state", "conclude"]

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
    # The log (size, root) read before the verdict (ScanCache.verify only).
    log: LogState | None = field(default=None, repr=False)
    # The item's state its facts were computed at (ScanCache.verify only; see item_state).
    state: Hashable = field(default=None, repr=False)

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
        verified = verify_label(link, keyring, now)
    except LabelError as exc:
        verdict.outcome, verdict.code, verdict.stage, verdict.detail = (
            COUNTERFEIT, exc.code, 2, exc.detail)
        return verdict
    # (3): the serial was issued.
    # The label verified, so it names all three (the signature covers 01, 10 and 21).
    gtin, lot, serial = verified.gtin, verified.lot, verified.serial
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


# --------------------------------------------------------------------------- cached verdicts

LogState = tuple[int, bytes]  # (tree size, root hash): changes with every ledger entry
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """A thread-safe LRU mapping of at most ``size`` entries."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: K) -> V | None:
        """Return the value of ``key`` (now the most recently used), or None."""
        with self._lock:
            value = self._data.get(key)
            if value is None:
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: K, value: V) -> None:
        """Store ``value`` under ``key``, dropping the least recently used beyond ``size``."""
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


_LOG_STATE = select(LogHead.size, LogHead.root).where(LogHead.id == HEAD_ID)  # built once


def log_state(bind: Session | Connection) -> LogState:
    """Return the log's (size, root) in one primary-key lookup (an empty log: (0, b""))."""
    row = bind.execute(_LOG_STATE).first()
    return (0, b"") if row is None else (int(row.size), bytes(row.root))


@dataclass(frozen=True)
class _Signature:
    """What stages (1)-(2) found for one URI under one keyring."""

    link: DigitalLink | None
    failure: tuple[str, int, str] | None  # (code, stage, detail)
    key: LabelKey | None  # the key the signature verified under (None on failure)


@dataclass(frozen=True)
class _Facts:
    """What stages (3)-(5) found for one item at one log state."""

    item: dict[str, Any] | None
    batch: dict[str, Any] | None
    product: dict[str, Any] | None
    history: queries.History | None
    failure: tuple[str, str, int, str] | None  # (outcome, code, stage, detail)


# Failures of stage (2) that depend only on the URI and the keyring, not on the time.
_TIMELESS = (MalformedSignatureError, UnknownKeyError)


class ScanCache:
    """Per-process caches of what a verdict depends on, keyed so that nothing goes stale.

    - signatures per (URI, keyring): the keyring is reloaded when the log changes and
      identified by its content (keys, statuses, validity), so a revoked key is seen at
      once; a valid signature is re-checked against the key's validity period at ``now``;
    - item facts (item, batch, product, history with proofs, chain check, recall) per
      (item subject, ``queries.item_state``): appends about other objects leave them
      valid; the proofs are against the checkpoint they were computed at, which the
      page names.  The item's state is read again only when the log's state differs
      from the one it was last read at.

    Bounded (least recently used entries are dropped).  Not for verdicts at a past ``now``
    of a revoked key's labels: statuses are current ones, as in ``verify_scan``.
    """

    def __init__(self, size: int = 2048) -> None:
        self.links: BoundedCache[str, tuple[DigitalLink | None, LabelError | None]] = (
            BoundedCache(size))
        self.signatures: BoundedCache[tuple[str, frozenset[LabelKey]], _Signature] = (
            BoundedCache(size))
        self.facts: BoundedCache[Hashable, _Facts] = BoundedCache(size)
        # Per item subject: the log state at which its state was last read, and that state.
        self.states: BoundedCache[str, tuple[LogState, Hashable]] = BoundedCache(size)
        self._keyring: tuple[LogState, LabelKeyring, frozenset[LabelKey]] | None = None
        self._lock = threading.Lock()

    def _keys(self, log: LogState, load: Callable[[], LabelKeyring]
              ) -> tuple[LabelKeyring, frozenset[LabelKey]]:
        current = self._keyring
        if current is not None and current[0] == log:
            return current[1], current[2]
        keyring = load()
        identity = frozenset(keyring)
        with self._lock:
            if self._keyring is not None and self._keyring[2] == identity:
                identity = self._keyring[2]  # the same keys: keep the object the cache keys hold
            self._keyring = (log, keyring, identity)
        return keyring, identity

    def _signature(self, uri: str, keyring: LabelKeyring, identity: frozenset[LabelKey],
                   now: datetime) -> _Signature:
        cached = self.signatures.get((uri, identity))
        if cached is not None and (cached.key is None or (
                cached.key.status is not KeyStatus.REVOKED and cached.key.valid_at(now))):
            return cached
        link, error = self.parse(uri)
        if link is None:
            assert error is not None
            found = _Signature(None, (error.code, 1, error.detail), None)
            self.signatures.put((uri, identity), found)
            return found
        try:
            verified = verify_label(link, keyring, now)
        except LabelError as exc:
            found = _Signature(link, (exc.code, 2, exc.detail), None)
            if isinstance(exc, _TIMELESS) or type(exc) in (SignatureError, DigitalLinkError):
                self.signatures.put((uri, identity), found)
            return found
        found = _Signature(link, None, verified.key)
        self.signatures.put((uri, identity), found)
        return found

    def parse(self, uri: str) -> tuple[DigitalLink | None, LabelError | None]:
        """Return ``uri`` parsed as a Digital Link, or why it is not one (stage 1; cached)."""
        found = self.links.get(uri)
        if found is None:
            try:
                found = (parse_digital_link(uri), None)
            except LabelError as exc:
                found = (None, exc)
            self.links.put(uri, found)
        return found

    def subject(self, uri: str) -> str | None:
        """Return the item subject ``uri`` names, if it names one (no signature check)."""
        link = self.parse(uri)[0]
        if link is None or not (link.gtin and link.lot and link.serial):
            return None
        return item_subject(link.gtin, link.lot, link.serial)

    def _facts(self, session: Session, link: DigitalLink, subject: str, log: LogState,
               log_keys: Sequence[note.LogVerifierKey], origin: str) -> tuple[_Facts, Hashable]:
        gtin, lot, serial = link.gtin, link.lot, link.serial
        assert gtin and lot and serial  # a verified label names all three
        # The item's state, read again only once the log has changed since it was last
        # read (no query per scan while nothing is appended).  Read first, in the
        # transaction that computes the facts: they are at least as new as their key.
        checked = self.states.get(subject)
        if checked is not None and checked[0] == log:
            state = checked[1]
        else:
            state = (subject, queries.item_state(session, gtin, lot, serial))
            self.states.put(subject, (log, state))
        cached = self.facts.get(state)
        if cached is not None:
            return cached, state
        item = queries.find_item(session, gtin, lot, serial)
        if item is None:
            facts = _Facts(None, None, None, None, (
                COUNTERFEIT, "trace.unknown_serial", 3,
                f"serial {serial} of {gtin}/{lot} was never issued"))
            self.facts.put(state, facts)
            return facts, state
        batch, product = queries.find_batch(session, gtin, lot), queries.find_product(session, gtin)
        history: queries.History | None = None
        failure = None
        try:
            history = queries.item_history(session, gtin, lot, serial)
            _check_chain(session, subject, history, log_keys, origin)
        except LedgerError as exc:
            failure = (SUSPICIOUS, "ledger.unverifiable", 4, exc.detail)
        if failure is None and batch is not None and batch.get("status") == "recalled":
            failure = (RECALLED, "trace.recalled", 5, "")
        facts = _Facts(item, batch, product, history, failure)
        # A failed chain check is not kept: it is rare, and checked again on every scan.
        if failure is None or failure[2] != 4:
            self.facts.put(state, facts)
        return facts, state

    def verify(self, session: Session, uri: str, *, keyring: Callable[[], LabelKeyring],
               log_keys: Sequence[note.LogVerifierKey], origin: str, now: datetime,
               log: LogState | None = None) -> Verdict:
        """Return the verdict of ``uri`` at ``now`` through stage (5), as ``verify_scan`` would.

        ``keyring`` loads the label keyring (called when the log has changed).  ``log`` is
        the log state just read (``log_state``; read through ``session`` when omitted);
        ``session`` is used only for what is not cached.  Stage (6) is left to
        ``conclude``, once the caller has the item's scan summary.
        """
        if log is None:
            log = log_state(session)
        ring, identity = self._keys(log, keyring)
        signature = self._signature(uri, ring, identity, now)
        if signature.failure is not None:
            code, stage, detail = signature.failure
            return Verdict(COUNTERFEIT, code, stage, detail, link=signature.link, log=log)
        link = signature.link
        assert link is not None
        verdict = Verdict(AUTHENTIC, "ok", 0, link=link, log=log)
        facts, verdict.state = self._facts(session, link, verdict.subject or "", log,
                                           log_keys, origin)
        verdict.item, verdict.batch, verdict.product = facts.item, facts.batch, facts.product
        verdict.history = facts.history
        if facts.failure is not None:
            verdict.outcome, verdict.code, verdict.stage, verdict.detail = facts.failure
        return verdict


def conclude(verdict: Verdict, summary: scans.ScanSummary | None) -> Verdict:
    """Attach the item's scan ``summary`` and apply stage (6) to a verdict of ``ScanCache``."""
    if verdict.item is None:
        return verdict
    verdict.summary = summary
    if verdict.outcome == AUTHENTIC and verdict.stage == 0:
        reasons = scans.suspicion(summary)
        if reasons:
            verdict.outcome, verdict.code, verdict.stage = SUSPICIOUS, reasons[0].code, 6
            verdict.detail = "; ".join(r.detail for r in reasons)
    return verdict
