"""Errors of the labels package.

Every error derives from :class:`LabelError` (itself a
:class:`ledger.errors.DomainError`), carries a stable machine ``code`` and a
short English and Chinese title, and its message names the bad value and the
exact reason (``bad check digit: expected 8, got 9``).  Only ``web/errors.py``
turns these into HTTP responses.  A ``code`` is public API: never rename one.
"""

from __future__ import annotations

from ledger.errors import DomainError

__all__ = [
    "CharacterError",
    "CheckDigitError",
    "DateError",
    "DigitalLinkError",
    "ElementStringError",
    "IdentifierError",
    "KeyListError",
    "KeyNotValidError",
    "KeyRevokedError",
    "LabelError",
    "LengthError",
    "MalformedSignatureError",
    "SignatureError",
    "SymbolError",
    "UnknownAIError",
    "UnknownKeyError",
]


class LabelError(DomainError):
    """Base error of the labels package."""

    code = "labels.error"
    title_en = "Label error"
    title_zh = "标签错误"


class IdentifierError(LabelError):
    """A GS1 key or attribute value is invalid (base of the specific reasons)."""

    code = "labels.bad_identifier"
    title_en = "Invalid GS1 identifier"
    title_zh = "GS1 标识无效"


class CheckDigitError(IdentifierError):
    """A GTIN, SSCC or GLN has a wrong mod-10 check digit."""

    code = "labels.bad_check_digit"
    title_en = "Wrong check digit"
    title_zh = "校验码错误"


class LengthError(IdentifierError):
    """A value has a length its Application Identifier does not allow."""

    code = "labels.bad_length"
    title_en = "Wrong length"
    title_zh = "长度错误"


class CharacterError(IdentifierError):
    """A value contains a character outside its AI's character set."""

    code = "labels.bad_character"
    title_en = "Forbidden character"
    title_zh = "包含不允许的字符"


class UnknownAIError(IdentifierError):
    """An Application Identifier is not in our table."""

    code = "labels.unknown_ai"
    title_en = "Unknown Application Identifier"
    title_zh = "未知的应用标识符"


class DateError(IdentifierError):
    """A YYMMDD date field (AI 11, 17, ...) is not a valid date."""

    code = "labels.bad_date"
    title_en = "Invalid date"
    title_zh = "日期无效"


class ElementStringError(LabelError):
    """A GS1 element string cannot be built or parsed."""

    code = "labels.bad_element_string"
    title_en = "Invalid GS1 element string"
    title_zh = "GS1 元素串无效"


class DigitalLinkError(LabelError):
    """A URI is not a valid GS1 Digital Link (or not one we support)."""

    code = "labels.bad_digital_link"
    title_en = "Invalid GS1 Digital Link"
    title_zh = "GS1 数字链接无效"


class SignatureError(LabelError):
    """The label signature does not verify under any candidate key."""

    code = "labels.bad_signature"
    title_en = "Label signature does not verify"
    title_zh = "标签签名验证失败"


class MalformedSignatureError(SignatureError):
    """The signature or key-id parameter is missing, duplicated or badly encoded."""

    code = "labels.malformed_signature"
    title_en = "Label signature missing or malformed"
    title_zh = "标签签名缺失或格式错误"


class UnknownKeyError(SignatureError):
    """No key in the keyring has the label's key id."""

    code = "labels.unknown_key"
    title_en = "Unknown label key"
    title_zh = "未知的标签密钥"


class KeyRevokedError(SignatureError):
    """The label was signed by a key that has been revoked."""

    code = "labels.key_revoked"
    title_en = "Label key revoked"
    title_zh = "标签密钥已吊销"


class KeyNotValidError(SignatureError):
    """The label's key exists but is outside its validity period at the given time."""

    code = "labels.key_not_valid"
    title_en = "Label key not valid at this time"
    title_zh = "标签密钥不在有效期内"


class KeyListError(LabelError):
    """A signed key list is malformed or its signature does not verify."""

    code = "labels.bad_key_list"
    title_en = "Invalid label key list"
    title_zh = "标签密钥列表无效"


class SymbolError(LabelError):
    """A payload cannot be encoded in the requested symbol (too long, wrong data)."""

    code = "labels.symbol"
    title_en = "Cannot encode barcode"
    title_zh = "无法生成条码"
