"""Errors of the credit package.

Every error is a ``CreditError`` (a ``ledger.errors.DomainError``) with a stable
``code`` that ``web/errors.py`` maps to an RFC 9457 problem+json response; the
message names the bad value.  Codes are public API: never rename one.  A refused
write raises before anything is appended, so nothing is written (STYLE 9).
"""

from __future__ import annotations

from ledger.errors import DomainError

__all__ = [
    "CreditError",
    "BadUSCC",
    "BadRealName",
    "InvalidInput",
    "Duplicate",
    "Forbidden",
    "NotFound",
    "Conflict",
    "TooEarly",
    "NotAParty",
    "InsufficientFunds",
    "Erased",
    "BadImport",
]


class CreditError(DomainError):
    """Base error of the credit package."""

    code = "credit.error"
    title_en = "Credit error"
    title_zh = "信用业务错误"


class BadUSCC(CreditError):
    """A 统一社会信用代码 fails GB 32100; ``reason`` names the failed check.

    ``attestable`` is true when the code is well formed but a check fails: such a
    code may be real (early pilot codes, see credit-brief.md), so a registrant who
    attests it is held for manual verification instead of being refused.
    """

    code = "credit.bad_uscc"
    title_en = "Invalid unified social credit code"
    title_zh = "统一社会信用代码无效"

    def __init__(self, detail: str, *, reason: str, attestable: bool) -> None:
        super().__init__(detail)
        self.reason = reason
        self.attestable = attestable


class BadRealName(CreditError):
    """A real-name record is malformed (e.g. a resident ID fails GB 11643)."""

    code = "credit.bad_real_name"
    title_en = "Invalid real-name record"
    title_zh = "实名信息无效"


class InvalidInput(CreditError):
    """An argument is outside what the rules accept (unknown kind, bad period, …)."""

    code = "credit.invalid"
    title_en = "Invalid credit request"
    title_zh = "信用请求无效"


class Duplicate(CreditError):
    """The subject, licence, rating, claim or record already exists."""

    code = "credit.duplicate"
    title_en = "Already exists"
    title_zh = "重复登记"


class Forbidden(CreditError):
    """The actor's role may not perform this act."""

    code = "credit.forbidden"
    title_en = "Not allowed for this role"
    title_zh = "无权操作"


class NotFound(CreditError):
    """The subject, record, complaint or claim does not exist."""

    code = "credit.not_found"
    title_en = "Not found"
    title_zh = "不存在"


class Conflict(CreditError):
    """The object is not in a state that allows this act (e.g. already decided)."""

    code = "credit.conflict"
    title_en = "Not allowed in the current state"
    title_zh = "当前状态不允许此操作"


class TooEarly(CreditError):
    """The act is asked before the earliest date the rules allow (repair, list removal)."""

    code = "credit.too_early"
    title_en = "Too early"
    title_zh = "未到可申请时间"


class NotAParty(CreditError):
    """The rater or rated party is not a party of that signed order."""

    code = "credit.not_a_party"
    title_en = "Not a party of the order"
    title_zh = "非该订单当事方"


class InsufficientFunds(CreditError):
    """The consumer-protection fund holds less than the payout."""

    code = "credit.insufficient_funds"
    title_en = "Insufficient fund balance"
    title_zh = "保证金余额不足"


class Erased(CreditError):
    """The personal data was erased (its key destroyed) and cannot be read."""

    code = "credit.erased"
    title_en = "Personal data erased"
    title_zh = "个人信息已删除"


class BadImport(CreditError):
    """A 双公示 CSV file is malformed (missing header fields, wrong encoding)."""

    code = "credit.bad_import"
    title_en = "Malformed import file"
    title_zh = "导入文件格式错误"
