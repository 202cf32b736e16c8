"""Errors of the ledger package, and the base every domain error derives from.

Each error carries a stable machine ``code`` and a short title in Chinese and
English; the message (``str(err)``) names the bad value.  Only ``web/errors.py``
turns these into HTTP responses (RFC 9457 problem+json).
"""

from __future__ import annotations

__all__ = [
    "DomainError",
    "LedgerError",
    "ProofError",
    "CheckpointError",
    "EntryError",
    "SequencerError",
    "NotFound",
    "AuditError",
]


class DomainError(Exception):
    """Base of every domain error (ledger, trace, credit, labels).

    Subclasses set ``code``, ``title_en`` and ``title_zh``; ``detail`` names the
    bad value.  ``code`` is part of the public API: never rename one.
    """

    code = "error"
    title_en = "Error"
    title_zh = "错误"

    def __init__(self, detail: str, *, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code


class LedgerError(DomainError):
    """Base error of the ledger package."""

    code = "ledger.error"
    title_en = "Ledger error"
    title_zh = "账本错误"


class EntryError(LedgerError):
    """An entry envelope is malformed or not canonical."""

    code = "ledger.bad_entry"
    title_en = "Malformed ledger entry"
    title_zh = "账本条目格式错误"


class ProofError(LedgerError):
    """A Merkle inclusion or consistency proof does not verify, or its inputs are invalid."""

    code = "ledger.bad_proof"
    title_en = "Invalid Merkle proof"
    title_zh = "默克尔证明无效"


class CheckpointError(LedgerError):
    """A checkpoint or signed note is malformed or its signature does not verify."""

    code = "ledger.bad_checkpoint"
    title_en = "Invalid checkpoint"
    title_zh = "检查点无效"


class SequencerError(LedgerError):
    """The log refused to integrate or sign (e.g. it would fork)."""

    code = "ledger.sequencer"
    title_en = "Log sequencing refused"
    title_zh = "账本排序被拒绝"


class NotFound(LedgerError):
    """The requested entry or range does not exist in the log."""

    code = "ledger.not_found"
    title_en = "Not found in the ledger"
    title_zh = "账本中不存在"


class AuditError(LedgerError):
    """An audit found a stored entry, hash, chain link or signature that does not match."""

    code = "ledger.audit_failed"
    title_en = "Ledger audit failed"
    title_zh = "账本审计未通过"

    def __init__(self, detail: str, *, index: int | None = None, code: str | None = None) -> None:
        super().__init__(detail, code=code)
        self.index = index
