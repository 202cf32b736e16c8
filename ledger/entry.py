"""The ledger entry envelope and its canonical bytes (RFC 8785).

An entry is the RFC 8785 (JSON Canonicalization Scheme) serialisation of::

    {"v": 1, "kind": str, "time": RFC 3339 str with offset, "actor": str,
     "subject": str, "prev": base64 leaf hash or null, "body": {...}}

``prev`` is the leaf hash (RFC 9162 §2.1.1) of the previous entry about the same
subject, which chains each object's history.  The bytes are what the log hashes,
so they must be reproducible from the parsed value: :func:`parse_entry` accepts
only bytes that are already canonical.

Numbers: only integers in the I-JSON safe range ``±(2**53 - 1)`` (RFC 8785 §3.2.2.3,
RFC 7493 §2.2) are allowed, anywhere in the envelope.  Floats are refused, even
integral ones such as ``1.0`` (which RFC 8785 would silently write as ``1``): a
value's type must survive the round trip, so money and measures go in as integer
minor units or as strings.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

import rfc8785

from ledger.errors import EntryError
from ledger.merkle import HASH_SIZE, leaf_hash

__all__ = [
    "canonical_json",
    "ENVELOPE_VERSION",
    "ENVELOPE_KEYS",
    "MAX_ENTRY_SIZE",
    "MAX_DEPTH",
    "Entry",
    "make_entry",
    "parse_entry",
    "format_time",
]

# Envelope version (STYLE 16: signed payloads and envelopes carry `v`).
ENVELOPE_VERSION = 1
ENVELOPE_KEYS = frozenset({"v", "kind", "time", "actor", "subject", "prev", "body"})
# C2SP tlog-tiles: entry bundles prefix each entry with a uint16 length.
MAX_ENTRY_SIZE = 65535
# Nesting limit for body values, to keep validation bounded.
MAX_DEPTH = 32
# RFC 7493 §2.2 (I-JSON) / RFC 8785 §3.2.2.3: integers exactly representable as doubles.
_INT_LIMIT = 2**53 - 1
# RFC 3339 §5.6 date-time, with a mandatory offset ("Z" or ±hh:mm).  Fractions are
# limited to microseconds, the precision of datetime.
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})", re.ASCII
)
# kind: a short dotted/namespaced identifier, e.g. "trace.shipment" or "credit/rating".
_KIND = re.compile(r"[a-z][a-z0-9_.:/-]{0,63}", re.ASCII)
_MAX_ID_LEN = 256
# C0 controls and DEL, refused in actor and subject.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# The C encoder of the standard library, set up to write RFC 8785 bytes for our value
# domain (see _canonical).  Cycles cannot reach it: _check_value bounds the depth first.
_FAST_DUMPS = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":"), check_circular=False
).encode


@dataclass(frozen=True)
class Entry:
    """A parsed, validated envelope; ``raw`` holds its canonical bytes."""

    v: int
    kind: str
    time: str
    actor: str
    subject: str
    prev: bytes | None
    body: Mapping[str, Any] = field(hash=False)
    raw: bytes = field(repr=False)

    @property
    def leaf_hash(self) -> bytes:
        """Return this entry's leaf hash, SHA-256(0x00 || raw) (RFC 9162 §2.1.1)."""
        return leaf_hash(self.raw)

    @property
    def timestamp(self) -> datetime:
        """Return ``time`` as an aware datetime."""
        return datetime.fromisoformat(self.time)


def format_time(when: datetime) -> str:
    """Format an aware datetime as RFC 3339 (``Z`` for UTC, microseconds if any).

    :raises EntryError: if ``when`` is naive.
    """
    if when.tzinfo is None or when.utcoffset() is None:
        raise EntryError(f"time {when.isoformat()!r} has no timezone offset")
    text = when.isoformat(timespec="microseconds" if when.microsecond else "seconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _check_time(value: object) -> str:
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise EntryError(f"time {value!r} is not an RFC 3339 date-time with an offset")
    try:
        datetime.fromisoformat(value)
    except ValueError as exc:
        raise EntryError(f"time {value!r} is not a valid date-time: {exc}") from None
    return value


def _check_text(name: str, value: object) -> str:
    if not isinstance(value, str) or not value or len(value) > _MAX_ID_LEN:
        raise EntryError(f"{name} must be a non-empty string of at most {_MAX_ID_LEN} characters, got {value!r}")
    if _CONTROL.search(value):
        raise EntryError(f"{name} {value!r} contains control characters")
    return value


def _check_value(value: object, where: str, depth: int = 0) -> bool:
    """Accept only JSON values made of null, bool, safe int, str, list and object.

    Return True when every object key inside ``value`` is ASCII (see _canonical).
    """
    if depth > MAX_DEPTH:
        raise EntryError(f"{where} is nested deeper than {MAX_DEPTH} levels")
    if value is None or isinstance(value, (bool, str)):
        return True
    if isinstance(value, int):
        if not -_INT_LIMIT <= value <= _INT_LIMIT:
            raise EntryError(f"{where} = {value} is outside the safe integer range ±(2**53 - 1)")
        return True
    if isinstance(value, float):
        raise EntryError(f"{where} = {value!r} is a float; use an integer or a string")
    ascii_keys = True
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            if type(item) is str or item is None or type(item) is bool:
                continue
            if type(item) is int and -_INT_LIMIT <= item <= _INT_LIMIT:
                continue
            if not _check_value(item, f"{where}[{i}]", depth + 1):
                ascii_keys = False
        return ascii_keys
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise EntryError(f"{where} has a non-string key {key!r}")
            if not key.isascii():
                ascii_keys = False
            # Scalars are checked here, without building the path ``where`` names.
            if type(item) is str or item is None or type(item) is bool:
                continue
            if type(item) is int and -_INT_LIMIT <= item <= _INT_LIMIT:
                continue
            if not _check_value(item, f"{where}.{key}", depth + 1):
                ascii_keys = False
        return ascii_keys
    raise EntryError(f"{where} has a value of type {type(value).__name__}, not JSON")


def _canonical(value: Any, ascii_keys: bool) -> bytes:
    """Return the RFC 8785 bytes of a value that passed _check_value.

    For our value domain (null, bool, integers within ±(2**53 - 1), strings, arrays,
    objects: no floats) ``json.dumps`` with sorted keys, no whitespace and
    ``ensure_ascii=False`` writes the same bytes as RFC 8785, about six times faster:
    both escape only ``"``, ``\\`` and U+0000..U+001F, as ``\\b \\f \\n \\r \\t`` or
    lowercase ``\\u00xx`` (RFC 8785 §3.2.2.2), and write integers as plain digits.
    Key order is the exception: RFC 8785 §3.2.3 sorts by UTF-16 code units and Python
    by code points, which differ for keys beyond U+D7FF, so a value with any non-ASCII
    key goes through ``rfc8785``.  So does anything the fast path refuses (a lone
    surrogate cannot be encoded as UTF-8, a mapping that is not a dict): ``rfc8785``
    then refuses it too and names the problem.
    """
    if ascii_keys:
        try:
            return _FAST_DUMPS(value).encode("utf-8")
        except (TypeError, ValueError):  # UnicodeEncodeError is a ValueError
            pass
    try:
        return rfc8785.dumps(value)
    # A lone surrogate: in a string rfc8785 raises CanonicalizationError, in a key
    # (while sorting by UTF-16) a bare UnicodeEncodeError.
    except (rfc8785.CanonicalizationError, UnicodeEncodeError) as exc:
        raise EntryError(f"entry cannot be canonicalised: {exc}") from None


def _fast_domain(value: Any) -> bool:
    """Whether C ``json`` writes ``value`` as RFC 8785 does (see :func:`_canonical`).

    True for strings, booleans, None, integers of at most 53 bits, and lists and dicts
    of those whose keys are ASCII.  Numbers with a fraction or exponent are not: RFC 8785
    writes them as ECMAScript does.
    """
    kind = type(value)  # exact types first: this runs over every value of every event
    if kind is str:
        return True
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or not key.isascii():
                return False
            if type(item) is not str and not _fast_domain(item):
                return False
        return True
    if kind is list:
        for item in value:
            if type(item) is not str and not _fast_domain(item):
                return False
        return True
    if value is None or isinstance(value, (bool, str)):
        return True
    if isinstance(value, int):
        return -_INT_LIMIT <= value <= _INT_LIMIT
    if isinstance(value, dict):
        return all(isinstance(k, str) and k.isascii() and _fast_domain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_fast_domain(v) for v in value)
    return False


def canonical_json(value: Any) -> bytes:
    """Return the RFC 8785 canonical bytes of any JSON value (floats included).

    Through C ``json`` when that writes the same bytes, else through ``rfc8785``.

    :raises EntryError: when ``value`` cannot be canonicalised (a lone surrogate, NaN,
        an integer beyond ±(2**53 - 1), a non-JSON type).
    """
    return _canonical(value, _fast_domain(value))


def _encode_prev(prev: bytes | None) -> str | None:
    if prev is None:
        return None
    if not isinstance(prev, bytes) or len(prev) != HASH_SIZE:
        raise EntryError(f"prev must be a {HASH_SIZE}-byte leaf hash or None, got {prev!r}")
    return base64.b64encode(prev).decode("ascii")


def _decode_prev(value: object) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) == HASH_SIZE and base64.b64encode(raw).decode("ascii") == value:
            return raw
    raise EntryError(f"prev {value!r} is not null or the base64 of a {HASH_SIZE}-byte hash")


def make_entry(
    kind: str,
    time: datetime | str,
    actor: str,
    subject: str,
    prev: bytes | None,
    body: Mapping[str, Any],
) -> bytes:
    """Build an envelope and return its RFC 8785 canonical bytes.

    ``time`` may be an aware datetime or an RFC 3339 string with an offset.

    :raises EntryError: if a field is invalid, the body holds a float or another
        non-JSON value, or the result exceeds MAX_ENTRY_SIZE bytes.
    """
    if not isinstance(body, Mapping):
        raise EntryError(f"body must be a JSON object, got {type(body).__name__}")
    ascii_keys = _check_value(body, "body")
    envelope: dict[str, Any] = {
        "v": ENVELOPE_VERSION,
        "kind": kind,
        "time": format_time(time) if isinstance(time, datetime) else time,
        "actor": actor,
        "subject": subject,
        "prev": _encode_prev(prev),
        "body": body,
    }
    _validate(envelope)
    data = _canonical(envelope, ascii_keys)
    if len(data) > MAX_ENTRY_SIZE:
        raise EntryError(f"entry is {len(data)} bytes, more than {MAX_ENTRY_SIZE}")
    return data


def _validate(envelope: Mapping[str, Any]) -> None:
    """Check the envelope's keys and fields (not the body's contents)."""
    keys = set(envelope)
    if "v" not in keys:
        raise EntryError("entry has no version field 'v'")
    version = envelope["v"]
    if type(version) is not int or version != ENVELOPE_VERSION:
        raise EntryError(f"entry version {version!r} is not supported (want {ENVELOPE_VERSION})")
    if keys - ENVELOPE_KEYS:
        raise EntryError(f"entry has unknown fields {sorted(keys - ENVELOPE_KEYS)}")
    if ENVELOPE_KEYS - keys:
        raise EntryError(f"entry lacks fields {sorted(ENVELOPE_KEYS - keys)}")
    kind = envelope["kind"]
    if not isinstance(kind, str) or not _KIND.fullmatch(kind):
        raise EntryError(f"kind {kind!r} is not a lowercase identifier like 'trace.shipment'")
    _check_time(envelope["time"])
    _check_text("actor", envelope["actor"])
    _check_text("subject", envelope["subject"])
    _decode_prev(envelope["prev"])
    if not isinstance(envelope["body"], Mapping):
        raise EntryError(f"body must be a JSON object, got {type(envelope['body']).__name__}")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise EntryError(f"entry repeats the key {key!r}")
        result[key] = value
    return result


def _refuse_number(text: str) -> Any:
    raise EntryError(f"number {text} is not an integer; floats are not allowed")


def parse_entry(data: bytes) -> Entry:
    """Parse and validate canonical entry bytes.

    Checks, in order: size, UTF-8, JSON syntax (no duplicate keys, no floats,
    NaN or Infinity), the envelope shape and version, and finally that ``data``
    is exactly its own RFC 8785 canonical form.

    :raises EntryError: naming the first problem found.
    """
    if not isinstance(data, bytes):
        raise EntryError(f"entry must be bytes, got {type(data).__name__}")
    if len(data) > MAX_ENTRY_SIZE:
        raise EntryError(f"entry is {len(data)} bytes, more than {MAX_ENTRY_SIZE}")
    try:
        text = data.decode("utf-8")
        value = json.loads(
            text, object_pairs_hook=_no_duplicates, parse_float=_refuse_number, parse_constant=_refuse_number
        )
    except UnicodeDecodeError as exc:
        raise EntryError(f"entry is not UTF-8: {exc}") from None
    except (ValueError, RecursionError) as exc:  # json.JSONDecodeError is a ValueError
        raise EntryError(f"entry is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise EntryError(f"entry must be a JSON object, got {type(value).__name__}")
    _validate(value)
    ascii_keys = _check_value(value["body"], "body")
    if _canonical(value, ascii_keys) != data:
        raise EntryError("entry bytes are not in RFC 8785 canonical form")
    return Entry(
        v=value["v"],
        kind=value["kind"],
        time=value["time"],
        actor=value["actor"],
        subject=value["subject"],
        prev=_decode_prev(value["prev"]),
        body=MappingProxyType(value["body"]),
        raw=data,
    )
