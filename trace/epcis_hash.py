"""The EPCIS event hash (CBV 2.0 §8.9 "EPCIS Event Hash ID"): pre-hash string, then SHA-256.

Our own small implementation of the algorithm as specified in the README of the
reference implementation, RalphTro/epcis-event-hash-generator (read, not copied):

1. Concatenate, without separators, ``key=value`` pairs in the canonical
   property order (:data:`_ORDER`), after ``eventType``; omit absent fields.
2. A list's name appears once, followed by its members sorted lexically
   (rule 11); a member with a type puts the value first, then ``type=`` (rule 13).
3. ``eventID``, ``recordTime``, ``errorDeclaration`` and ``certificationInfo`` are
   not hashed; ILMD and user extensions go last, as ``{namespace}local=value``
   strings sorted lexically (rules 19-20).
4. Normalise: times to UTC with milliseconds (``…SS.mmmZ``, the 4th decimal
   rounds up from 5); numbers without trailing zeros; trimmed strings; bare and
   ``urn:epcglobal:cbv:`` CBV terms to ``https://ref.gs1.org/cbv/…`` (rules 14-16);
   EPC URIs to canonical GS1 Digital Links, and Digital Links to
   ``https://id.gs1.org`` with the finest key only and no query (rules 17-18).
5. Return ``ni:///sha-256;<hex>?ver=CBV2.0`` (RFC 6920).

Limits (documented in docs/epcis.md): sensor data is hashed generically; EPC
URIs of schemes other than those in :func:`epc_to_dl` and Digital Links with
keys other than 00/01/414 are hashed as given.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple
from urllib.parse import unquote

from labels.digital_link import CANONICAL_BASE, DigitalLink, parse_digital_link, percent_encode
from labels.errors import LabelError
from labels.gs1 import check_digit

__all__ = ["CBV", "event_hash", "pre_hash", "epc_to_dl", "canonical_id", "canonical_link", "cbv_term"]

CBV = "https://ref.gs1.org/cbv/"
# CBV 2.0 §7: the web-vocabulary prefix of each CBV vocabulary, by the field holding it.
_VOCAB = {
    "bizStep": "BizStep-",
    "disposition": "Disp-",
    "bizTransactionType": "BTT-",
    "sourceDestType": "SDT-",
    "errorReason": "ER-",
}
_URN_VOCAB = {"bizstep": "BizStep-", "disp": "Disp-", "btt": "BTT-", "sdt": "SDT-", "er": "ER-"}
_TIME = re.compile(
    r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|z|[+-]\d{2}:\d{2})", re.ASCII
)
_NOT_HASHED = frozenset(
    {"type", "eventID", "recordTime", "errorDeclaration", "certificationInfo", "@context"}
)


def cbv_term(value: str, vocabulary: str) -> str:
    """Return a CBV term as its Web URI: ``shipping`` -> ``<CBV>BizStep-shipping`` (rules 14-16)."""
    value = value.strip()
    if value.startswith("urn:epcglobal:cbv:"):
        parts = value.split(":")
        if len(parts) == 5 and parts[3] in _URN_VOCAB:
            return CBV + _URN_VOCAB[parts[3]] + parts[4]
        return value
    if value.startswith("cbv:"):
        return CBV + value[4:]
    if ":" not in value:  # JSON-LD bare term (rule 16)
        return CBV + _VOCAB[vocabulary] + value
    return value


def _gtin(company: str, reference: str) -> str:
    body = reference[:1] + company + reference[1:]
    return body + check_digit(body)


_EPC_URN = re.compile(r"urn:epc:(id|class|idpat):([a-z]+):(.+)")


def epc_to_dl(uri: str) -> str | None:
    """Convert an EPC pure-identity/class/pattern URN to its canonical Digital Link (TDS 2.0).

    Returns None for a URN of another scheme.
    """
    m = _EPC_URN.fullmatch(uri.strip())
    if m is None:
        return None
    form, scheme, rest = m.groups()
    parts = [unquote(p) for p in rest.split(".")]
    b = CANONICAL_BASE
    try:
        if scheme == "sgtin" and form == "id" and len(parts) == 3:
            return f"{b}/01/{_gtin(parts[0], parts[1])}/21/{percent_encode(parts[2])}"
        if scheme == "sgtin" and form == "idpat" and len(parts) == 3 and parts[2] == "*":
            return f"{b}/01/{_gtin(parts[0], parts[1])}"
        if scheme == "lgtin" and form == "class" and len(parts) == 3:
            return f"{b}/01/{_gtin(parts[0], parts[1])}/10/{percent_encode(parts[2])}"
        if scheme == "sscc" and len(parts) == 2:
            body = parts[1][:1] + parts[0] + parts[1][1:]
            return f"{b}/00/{body}{check_digit(body)}"
        if scheme == "sgln" and len(parts) == 3:
            gln = parts[0] + parts[1]
            ext = "" if parts[2] == "0" else f"/254/{percent_encode(parts[2])}"
            return f"{b}/414/{gln}{check_digit(gln)}{ext}"
        if scheme == "pgln" and len(parts) == 2:
            return f"{b}/417/{parts[0] + parts[1]}{check_digit(parts[0] + parts[1])}"
        if scheme == "grai" and len(parts) == 3:
            body = "0" + parts[0] + parts[1]
            return f"{b}/8003/{body}{check_digit(body)}{percent_encode(parts[2])}"
        if scheme == "giai" and len(parts) == 2:
            return f"{b}/8004/{percent_encode(parts[0] + parts[1])}"
        if scheme == "gsrn" and len(parts) == 2:
            return f"{b}/8018/{parts[0] + parts[1]}{check_digit(parts[0] + parts[1])}"
        if scheme == "gdti" and len(parts) == 3:
            body = parts[0] + parts[1]
            return f"{b}/253/{body}{check_digit(body)}{percent_encode(parts[2])}"
    except (ValueError, LabelError):
        return None
    return None


def canonical_id(value: str) -> str:
    """Return the hash form of an identifier value (rules 17-18); other values trimmed."""
    value = value.strip()
    converted = epc_to_dl(value)
    if converted is not None:
        return converted
    if value.startswith(("http://", "https://")):
        try:
            link = parse_digital_link(value)
        except LabelError:
            return value
        return canonical_link(link)
    return value


def canonical_link(link: DigitalLink) -> str:
    """Return the hash form of a parsed Digital Link (rule 18): the finest key, no query."""
    # Rule 18 (III): only the finest level: 01+21, else 01+10, else the key alone.
    keep = [("21", link.serial)] if link.serial else [("10", link.lot)] if link.lot else []
    if link.key_ai == "414":
        keep = [(ai, v) for ai, v in link.qualifiers if ai == "254"]
    path = f"/{link.key_ai}/{link.key}" + "".join(
        f"/{ai}/{percent_encode(v)}" for ai, v in keep if v
    )
    return CANONICAL_BASE + path


def _time(value: str) -> str:
    m = _TIME.fullmatch(value.strip())
    if m is None:
        return value.strip()
    base, frac, offset = m.groups()
    frac = frac or ""
    millis = int(frac[:3].ljust(3, "0")) + (1 if len(frac) > 3 and frac[3] >= "5" else 0)
    when = datetime.fromisoformat(base + ("+00:00" if offset in ("Z", "z") else offset))
    when = when.astimezone(timezone.utc) + timedelta(milliseconds=millis)
    return when.strftime("%Y-%m-%dT%H:%M:%S") + f".{when.microsecond // 1000:03d}Z"


def _number(value: Any) -> str:
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return str(value).strip()
    text = format(number.normalize(), "f")
    return "0" if text in ("-0", "") else text


class _Context(NamedTuple):
    """What the builders share: the document's prefixes and the identifier normaliser."""

    prefixes: Mapping[str, str]
    canonical: Callable[[str], str]


_Builder = Callable[[str, Any, _Context], str]


def _scalar(value: Any, ctx: _Context) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return _number(value)
    return ctx.canonical(
        cbv_term(str(value), "bizStep")
        if str(value).startswith("urn:epcglobal:cbv:")
        else str(value)
    )


def _key(name: str, prefixes: Mapping[str, str]) -> str:
    prefix, sep, local = name.partition(":")
    if sep and prefix in prefixes:
        return "{" + prefixes[prefix] + "}" + local
    return name


def _extension(name: str, value: Any, ctx: _Context) -> list[str]:
    """Return the pre-hash strings of one extension element (one per list member)."""
    key = _key(name, ctx.prefixes)
    if isinstance(value, list):
        return [s for member in value for s in _extension(name, member, ctx)]
    if isinstance(value, Mapping):
        text = value.get("#text")
        children = sorted(
            s
            for k, v in value.items()
            if not k.startswith(("@", "#"))
            for s in _extension(k, v, ctx)
        )
        return [key + (f"={_scalar(text, ctx)}" if text is not None else "") + "".join(children)]
    return [f"{key}={_scalar(value, ctx)}"]


def _listing(name: str, members: list[str]) -> str:
    members = sorted(m for m in members if m)
    return name + "".join(members) if members else ""


def _epcs(name: str, value: Any, ctx: _Context) -> str:
    return _listing(name, [f"epc={ctx.canonical(v)}" for v in value or []])


def _quantities(name: str, value: Any, ctx: _Context) -> str:
    members = []
    for q in value or []:
        parts = [f"epcClass={ctx.canonical(q['epcClass'])}"]
        parts += [f"quantity={_number(q['quantity'])}"] if "quantity" in q else []
        parts += [f"uom={q['uom'].strip()}"] if "uom" in q else []
        members.append("quantityElement" + "".join(parts))
    return _listing(name, members)


def _typed(member: str, vocabulary: str) -> _Builder:
    def build(name: str, value: Any, ctx: _Context) -> str:
        return _listing(
            name,
            [
                f"{member}={ctx.canonical(v[member])}"
                + (f"type={cbv_term(v['type'], vocabulary)}" if "type" in v else "")
                for v in value or []
            ],
        )

    return build


def _location(name: str, value: Any, ctx: _Context) -> str:
    extra = sorted(s for k, v in value.items() if k != "id" for s in _extension(k, v, ctx))
    return f"{name}id={ctx.canonical(value['id'])}" + "".join(extra)


def _plain(vocabulary: str | None = None, time: bool = False) -> _Builder:
    def build(name: str, value: Any, ctx: _Context) -> str:
        if time:
            return f"{name}={_time(value)}"
        text = cbv_term(value, vocabulary) if vocabulary else ctx.canonical(str(value))
        return f"{name}={text}"

    return build


def _persistent(name: str, value: Any, _: _Context) -> str:
    parts = [
        f"{k}={cbv_term(v, 'disposition')}"
        for k in ("set", "unset")
        for v in sorted(value.get(k, []))
    ]
    return name + "".join(parts) if parts else ""


def _nested(name: str, value: Any, ctx: _Context) -> str:
    # Sensor data and ILMD: each member's fields as extension strings, members sorted.
    if isinstance(value, Mapping):
        return _listing(name, [s for k, v in value.items() for s in _extension(k, v, ctx)])
    return _listing(
        name, [s for member in value for s in _extension("sensorElement", member, ctx)]
    )


# CBV 2.0 §8.9 canonical property order (reference implementation README, rows 2-24).
_ORDER: tuple[tuple[str, _Builder], ...] = (
    ("eventTime", _plain(time=True)),
    ("eventTimeZoneOffset", _plain()),
    ("epcList", _epcs),
    ("parentID", _plain()),
    ("inputEPCList", _epcs),
    ("childEPCs", _epcs),
    ("quantityList", _quantities),
    ("childQuantityList", _quantities),
    ("inputQuantityList", _quantities),
    ("outputEPCList", _epcs),
    ("outputQuantityList", _quantities),
    ("action", _plain()),
    ("transformationID", _plain()),
    ("bizStep", _plain("bizStep")),
    ("disposition", _plain("disposition")),
    ("persistentDisposition", _persistent),
    ("readPoint", _location),
    ("bizLocation", _location),
    ("bizTransactionList", _typed("bizTransaction", "bizTransactionType")),
    ("sourceList", _typed("source", "sourceDestType")),
    ("destinationList", _typed("destination", "sourceDestType")),
    ("sensorElementList", _nested),
    ("ilmd", _nested),
)
_ORDERED = frozenset(name for name, _ in _ORDER)


def pre_hash(
    event: Mapping[str, Any],
    prefixes: Mapping[str, str] | None = None,
    canonical: Callable[[str], str] = canonical_id,
) -> str:
    """Return the pre-hash string of an EPCIS 2.0 JSON event.

    ``prefixes`` maps the document's JSON-LD context prefixes to namespaces
    (``{"example": "http://ns.example.com/epcis/"}``), for extension keys.
    ``canonical`` normalises identifiers (rules 17-18); a caller that has parsed
    the document's EPCs already passes a memo of :func:`canonical_id`.
    """
    ctx = _Context(
        {"cbvmda": "urn:epcglobal:cbv:mda:", **(prefixes or {})}, canonical
    )
    parts = [f"eventType={event['type']}"]
    for name, build in _ORDER:
        if name in event and event[name] not in (None, [], {}):
            parts.append(build(name, event[name], ctx))
    extensions = [
        s
        for k, v in event.items()
        if k not in _ORDERED and k not in _NOT_HASHED
        for s in _extension(k, v, ctx)
    ]
    return "".join(parts) + "".join(sorted(extensions))


def event_hash(
    event: Mapping[str, Any],
    prefixes: Mapping[str, str] | None = None,
    canonical: Callable[[str], str] = canonical_id,
) -> str:
    """Return the event's hash id ``ni:///sha-256;<hex>?ver=CBV2.0`` (RFC 6920)."""
    digest = hashlib.sha256(pre_hash(event, prefixes, canonical).encode("utf-8")).hexdigest()
    return f"ni:///sha-256;{digest}?ver=CBV2.0"
