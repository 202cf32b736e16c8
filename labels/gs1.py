"""GS1 keys, Application Identifiers and element strings.

Pure functions over strings: check digits of GTIN, SSCC and GLN; the AI table
this service uses (a subset of the GS1 Barcode Syntax Dictionary); validators
that return the normalised value or raise a :class:`labels.errors.LabelError`
whose message names the exact reason; GS1 element strings with FNC1
separators, their human-readable (HRI) form, and a parser for both.

References (GS1 General Specifications, Release 24/25, "GenSpecs"):
§3.2 (AI definitions), §7.8.5 (FNC1 and predefined-length AIs),
§7.9.1 (standard mod-10 check digit), §7.11 (character set 82), §7.12
(century of YY dates).
"""

from __future__ import annotations

import calendar
import datetime as _dt
import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from stdnum import ean as _ean

from labels.errors import (
    CharacterError,
    CheckDigitError,
    DateError,
    ElementStringError,
    LengthError,
    UnknownAIError,
)

__all__ = [
    "CSET82",
    "GBT33993_FORBIDDEN",
    "GS",
    "AIDef",
    "ai_date",
    "check_digit",
    "element_string",
    "hri",
    "lookup_ai",
    "parse_element_string",
    "parse_hri",
    "validate_ai",
    "validate_date",
    "validate_gln",
    "validate_gtin",
    "validate_lot",
    "validate_serial",
    "validate_sscc",
]

GS = "\x1d"  # ASCII 29: FNC1 as a field separator inside a GS1 element string (GenSpecs §7.8.5)

# GenSpecs §7.11, Figure 7.11-1: GS1 AI encodable character set 82.
CSET82 = frozenset(
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
)
# GB/T 33993-2017 商品二维码: lot and serial additionally exclude these characters.
GBT33993_FORBIDDEN = frozenset("%&/<>?")

# GenSpecs §7.8.5, Figure 7.8.5-2: AI prefixes whose element strings have a
# predefined length, so no FNC1 separator follows them.
_PREDEFINED_PREFIX_LEN = {
    "00": 20, "01": 16, "02": 16, "03": 16, "04": 18, "11": 8, "12": 8, "13": 8,
    "14": 8, "15": 8, "16": 8, "17": 8, "18": 8, "19": 8, "20": 4, "31": 10,
    "32": 10, "33": 10, "34": 10, "35": 10, "36": 10, "41": 16,
}  # fmt: skip


@dataclass(frozen=True)
class AIDef:
    """One Application Identifier: its data title, format and length."""

    ai: str
    title: str
    numeric: bool  # N (digits) or X (CSET 82)
    min_len: int
    max_len: int
    check_digit: bool = False  # last digit is a GenSpecs §7.9.1 mod-10 check digit
    date: bool = False  # YYMMDD, DD may be 00 (GenSpecs §7.12)

    @property
    def fixed(self) -> bool:
        """Return True if the AI's element string has a predefined length (no FNC1 after it)."""
        return self.ai[:2] in _PREDEFINED_PREFIX_LEN


def _n(ai: str, title: str, length: int, **kw: bool) -> AIDef:
    return AIDef(ai, title, True, length, length, **kw)


# GenSpecs §3.2: the AIs this service reads and writes.  Unknown AIs are
# refused, as the GS1 Barcode Syntax Engine does by default.
_TABLE: dict[str, AIDef] = {
    d.ai: d
    for d in (
        _n("00", "SSCC", 18, check_digit=True),
        _n("01", "GTIN", 14, check_digit=True),
        _n("02", "CONTENT", 14, check_digit=True),
        AIDef("10", "BATCH/LOT", False, 1, 20),
        _n("11", "PROD DATE", 6, date=True),
        _n("12", "DUE DATE", 6, date=True),
        _n("13", "PACK DATE", 6, date=True),
        _n("15", "BEST BEFORE or BEST BY", 6, date=True),
        _n("16", "SELL BY", 6, date=True),
        _n("17", "USE BY or EXPIRY", 6, date=True),
        _n("20", "VARIANT", 2),
        AIDef("21", "SERIAL", False, 1, 20),
        AIDef("22", "CPV", False, 1, 20),
        AIDef("235", "TPX", False, 1, 28),
        AIDef("254", "GLN EXTENSION COMPONENT", False, 1, 20),
        AIDef("30", "VAR. COUNT", True, 1, 8),
        AIDef("37", "COUNT", True, 1, 8),
        AIDef("400", "ORDER NUMBER", False, 1, 30),
        AIDef("401", "GINC", False, 1, 30),
        _n("414", "LOC No.", 13, check_digit=True),
        AIDef("90", "INTERNAL", False, 1, 30),
    )
}
# Trade measures 310n-369n (N6, n = decimal places) and prices 392n (N..15).
for _p in [
    *range(310, 317),
    *range(320, 330),
    *range(330, 338),
    *range(340, 358),
    *range(360, 370),
]:
    for _d in range(10):
        _TABLE[f"{_p}{_d}"] = _n(f"{_p}{_d}", "MEASURE", 6)
for _d in range(10):
    _TABLE[f"392{_d}"] = AIDef(f"392{_d}", "PRICE", True, 1, 15)
for _i in range(91, 100):
    _TABLE[str(_i)] = AIDef(str(_i), "INTERNAL", False, 1, 90)


def lookup_ai(ai: str) -> AIDef:
    """Return the definition of Application Identifier ``ai``.

    :raises UnknownAIError: if ``ai`` is not in the table.
    """
    try:
        return _TABLE[ai]
    except KeyError:
        raise UnknownAIError(f"unknown Application Identifier ({ai})") from None


@functools.lru_cache(maxsize=4096)  # a document or a print run repeats its few GTINs and GLNs
def check_digit(digits: str) -> str:
    """Return the GS1 mod-10 check digit for ``digits`` (the key without its check digit).

    GenSpecs §7.9.1: from the right, weights 3,1,3,1...; check = (10 - sum mod 10) mod 10.
    """
    return str(_ean.calc_check_digit(digits))


def _check_chars(
    what: str, value: str, allowed: frozenset[str], extra_forbidden: frozenset[str] = frozenset()
) -> None:
    if _char_pattern(allowed, extra_forbidden).fullmatch(value):
        return  # the usual case: one scan in C
    for pos, c in enumerate(value, 1):
        if c not in allowed or c in extra_forbidden:
            raise CharacterError(f"{what} {value!r}: forbidden character {c!r} at position {pos}")


@functools.lru_cache(maxsize=None)  # one per character set of this module: a handful
def _char_pattern(allowed: frozenset[str], extra_forbidden: frozenset[str]) -> re.Pattern[str]:
    return re.compile("[" + re.escape("".join(sorted(allowed - extra_forbidden))) + "]*")


_DIGITS = frozenset("0123456789")


# Remembered: a capture or print run checks the same few GTINs and GLNs over and over
# (an invalid value raises, and is not remembered).
@functools.lru_cache(maxsize=4096)
def _validate_key(what: str, value: str, lengths: Sequence[int]) -> str:
    _check_chars(what, value, _DIGITS)
    if len(value) not in lengths:
        allowed = ", ".join(map(str, lengths))
        raise LengthError(
            f"{what} {value!r}: bad length: must be {allowed} digits, got {len(value)}"
        )
    expected = check_digit(value[:-1])
    if value[-1] != expected:
        raise CheckDigitError(
            f"{what} {value!r}: bad check digit: expected {expected}, got {value[-1]}"
        )
    return value


def validate_gtin(s: str) -> str:
    """Validate a GTIN-8, -12, -13 or -14 and return it as GTIN-14 (left-padded with zeros).

    :raises CharacterError: on a non-digit.
    :raises LengthError: unless 8, 12, 13 or 14 digits.
    :raises CheckDigitError: if the mod-10 check digit is wrong.
    """
    return _validate_key("GTIN", s, (8, 12, 13, 14)).zfill(14)


def validate_sscc(s: str) -> str:
    """Validate an 18-digit SSCC (AI 00) and return it.

    :raises CharacterError, LengthError, CheckDigitError: as for :func:`validate_gtin`.
    """
    return _validate_key("SSCC", s, (18,))


def validate_gln(s: str) -> str:
    """Validate a 13-digit GLN (AI 414) and return it.

    :raises CharacterError, LengthError, CheckDigitError: as for :func:`validate_gtin`.
    """
    return _validate_key("GLN", s, (13,))


def _validate_x20(what: str, s: str, gbt33993: bool) -> str:
    if not 1 <= len(s) <= 20:
        raise LengthError(f"{what} {s!r}: bad length: must be 1 to 20 characters, got {len(s)}")
    _check_chars(what, s, CSET82, GBT33993_FORBIDDEN if gbt33993 else frozenset())
    return s


def validate_lot(s: str, *, gbt33993: bool = False) -> str:
    """Validate a batch/lot number (AI 10: X..20 from CSET 82) and return it.

    With ``gbt33993=True`` also refuse ``%&/<>?`` (GB/T 33993 商品二维码).

    :raises LengthError: if empty or longer than 20.
    :raises CharacterError: naming the first forbidden character and its 1-based position.
    """
    return _validate_x20("lot", s, gbt33993)


def validate_serial(s: str, *, gbt33993: bool = False) -> str:
    """Validate a serial number (AI 21: X..20 from CSET 82) and return it.

    :raises LengthError: if empty or longer than 20.
    :raises CharacterError: naming the first forbidden character and its 1-based position.
    """
    return _validate_x20("serial", s, gbt33993)


def validate_date(s: str, ai: str = "17") -> str:
    """Validate a YYMMDD date value (DD may be ``00``: end of month) and return it.

    February 29 is accepted when YY is divisible by 4 (exact for 1951-2099,
    the window of GenSpecs §7.12 for the foreseeable future).

    :raises CharacterError, LengthError: on a non-digit or a length other than 6.
    :raises DateError: if the month or day is out of range.
    """
    what = f"date ({ai})"
    _check_chars(what, s, _DIGITS)
    if len(s) != 6:
        raise LengthError(f"{what} {s!r}: bad length: must be 6 digits YYMMDD, got {len(s)}")
    yy, mm, dd = int(s[:2]), int(s[2:4]), int(s[4:])
    if not 1 <= mm <= 12:
        raise DateError(f"{what} {s!r}: month {mm:02d} is not 01-12")
    last = calendar.monthrange(2000 + yy, mm)[1]
    if dd > last:
        raise DateError(f"{what} {s!r}: day {dd:02d} is past the end of month {mm:02d} ({last})")
    return s


def ai_date(value: str, *, today: _dt.date) -> _dt.date:
    """Return the calendar date of a YYMMDD value, resolving the century per GenSpecs §7.12.

    YY lies within 49 years before and 50 years after ``today``; DD ``00`` means
    the last day of the month.

    :raises DateError: (or another IdentifierError) if ``value`` is not a valid YYMMDD.
    """
    validate_date(value)
    yy, mm, dd = int(value[:2]), int(value[2:4]), int(value[4:])
    diff = yy - today.year % 100
    century = today.year // 100 + (1 if diff <= -50 else -1 if diff >= 51 else 0)
    year = century * 100 + yy
    last = calendar.monthrange(year, mm)[1]
    if dd > last:
        raise DateError(f"date {value!r}: day {dd:02d} does not exist in {year}-{mm:02d}")
    return _dt.date(year, mm, dd or last)


def validate_ai(ai: str, value: str) -> str:
    """Validate ``value`` against Application Identifier ``ai`` and return it.

    GTIN-type values (01, 02) must already be 14 digits here; use
    :func:`validate_gtin` to normalise shorter GTINs first.

    :raises UnknownAIError: if ``ai`` is not known.
    :raises IdentifierError: (a subclass) naming the exact problem.
    """
    d = lookup_ai(ai)
    what = f"({ai})"
    if d.ai == "00":
        return validate_sscc(value)
    if d.ai == "414":
        return validate_gln(value)
    if d.ai in ("01", "02"):
        return _validate_key(f"GTIN ({ai})", value, (14,))
    if d.date:
        return validate_date(value, ai)
    _check_chars(what, value, _DIGITS if d.numeric else CSET82)
    if not d.min_len <= len(value) <= d.max_len:
        span = f"{d.max_len}" if d.min_len == d.max_len else f"{d.min_len} to {d.max_len}"
        raise LengthError(
            f"{what} {value!r}: bad length: must be {span} characters, got {len(value)}"
        )
    if d.check_digit:
        _validate_key(what, value, (d.max_len,))
    return value


def element_string(ais: Iterable[tuple[str, str]], fnc1: str = GS) -> str:
    """Return the GS1 element string of ``ais`` in the given order.

    ``fnc1`` separates a variable-length field from the next AI
    (GenSpecs §7.8.5); none follows the last field or a predefined-length one.
    Values are validated first.

    :raises ElementStringError: if ``ais`` is empty.
    :raises IdentifierError: (a subclass) for an invalid AI or value.
    """
    parts: list[str] = []
    need_sep = False
    for ai, value in ais:
        validate_ai(ai, value)
        if need_sep:
            parts.append(fnc1)
        parts.append(ai + value)
        need_sep = not lookup_ai(ai).fixed
    if not parts:
        raise ElementStringError("element string needs at least one AI")
    return "".join(parts)


def hri(ais: Iterable[tuple[str, str]]) -> str:
    """Return the human-readable interpretation, e.g. ``(01)09520123456788(10)ABC1``.

    :raises IdentifierError: (a subclass) for an invalid AI or value.
    """
    return "".join(f"({ai}){validate_ai(ai, value)}" for ai, value in ais)


def _read_ai(s: str, pos: int) -> AIDef:
    for n in (2, 3, 4):  # GS1 AIs are prefix-free, so the first match is the AI
        if s[pos : pos + n] in _TABLE:
            return _TABLE[s[pos : pos + n]]
    raise ElementStringError(
        f"element string: unknown AI at position {pos + 1}: {s[pos : pos + 4]!r}"
    )


def parse_element_string(s: str, fnc1: str = GS) -> list[tuple[str, str]]:
    """Parse a GS1 element string into ``[(ai, value), ...]``, validating each value.

    A leading symbology identifier (``]C1``, ``]d2``, ``]Q3``, ``]e0``) or a
    leading separator is ignored.

    :raises ElementStringError: for an unknown AI, a short fixed field or an empty value.
    :raises IdentifierError: (a subclass) for an invalid value.
    """
    if s[:3] in ("]C1", "]d2", "]Q3", "]e0", "]J1"):
        s = s[3:]
    s = s.removeprefix(fnc1)
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(s):
        d = _read_ai(s, pos)
        pos += len(d.ai)
        if d.fixed:
            end = pos + _PREDEFINED_PREFIX_LEN[d.ai[:2]] - len(d.ai)
            if end > len(s):
                raise ElementStringError(
                    f"element string: ({d.ai}) needs {end - pos} characters, got {len(s) - pos}"
                )
            value, pos = s[pos:end], end
            if s[pos : pos + len(fnc1)] == fnc1:  # tolerated, though not needed
                pos += len(fnc1)
        else:
            end = s.find(fnc1, pos)
            end = len(s) if end < 0 else end
            value, pos = s[pos:end], end + len(fnc1)
        if not value:
            raise ElementStringError(f"element string: empty value for ({d.ai})")
        out.append((d.ai, validate_ai(d.ai, value)))
    if not out:
        raise ElementStringError("element string is empty")
    return out


def parse_hri(s: str) -> list[tuple[str, str]]:
    """Parse the bracketed HRI form ``(01)...(10)...`` into ``[(ai, value), ...]``.

    Values cannot contain ``(`` here, as in the GenSpecs §4.15 HRI text.

    :raises ElementStringError: if the text is not in ``(AI)value`` form.
    :raises IdentifierError: (a subclass) for an unknown AI or invalid value.
    """
    if not s.startswith("("):
        raise ElementStringError(f"HRI {s!r} must start with '('")
    out: list[tuple[str, str]] = []
    for chunk in s[1:].split("("):
        ai, sep, value = chunk.partition(")")
        if not sep:
            raise ElementStringError(f"HRI {s!r}: missing ')' after ({ai}")
        out.append((ai, validate_ai(ai, value)))
    return out
