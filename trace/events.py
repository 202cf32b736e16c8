"""Event kinds and their bodies: what each lifecycle event records, validated.

Each kind has a field table (:data:`FIELDS`): a validator and whether the field
is required.  :func:`parse_event` checks a caller's body against it, refusing
unknown fields, and returns the event's :class:`Target` (the product, batch,
item or logistic unit it is about) and the normalised body fields.  Bodies hold
only strings and integers (the ledger refuses floats): money is integer cents
plus an ISO 4217 currency, weights are integer grams, times are RFC 3339 with an
offset.

Personal data never enters a body.  A buyer or the person who signed is
recorded as a salted commitment, ``SHA-256("trace-commit-v1" 0x00 salt 0x00 value)``
in hex; the platform or courier keeps the opening (:class:`Opening`, the salt and
the value) and hands it to that person, who presents it to review or complain
(see :mod:`trace.rules`).  The salt is 128 random bits or more, so a commitment
to a phone number cannot be brute-forced.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

from stdnum import luhn

from trace import identifiers as ids
from trace.errors import BadEvent, CardNumberRefused

__all__ = [
    "KINDS",
    "CATEGORIES",
    "LICENCES",
    "FIELDS",
    "LEVELS",
    "Opening",
    "Target",
    "ledger_kind",
    "short_kind",
    "commit",
    "commitment_of",
    "event_time",
    "parse_event",
    "check_no_card_number",
]

PREFIX = "trace."
# Product categories of 国办发〔2015〕95号 important-product traceability, plus "other".
CATEGORIES = (
    "food", "drug", "medical_device", "agricultural_product", "agricultural_input",
    "special_equipment", "hazardous_goods", "rare_earth", "women_children_goods",
    "daily_consumer_goods", "other",
)  # fmt: skip
# The licence a producer of each category must hold (checked by credit/, recorded here).
LICENCES: dict[str, str | None] = {
    "food": "food_production",  # 食品生产许可证 (SC)
    "drug": "drug_manufacturing",  # 药品生产许可证
    "medical_device": "medical_device_production",  # 医疗器械生产许可证
    "agricultural_product": None,
    "agricultural_input": "agricultural_input_production",  # 农药/兽药/肥料 licences
    "special_equipment": "special_equipment_manufacturing",  # 特种设备制造许可证
    "hazardous_goods": "hazardous_chemicals_production",  # 危险化学品安全生产许可证
    "rare_earth": "rare_earth_quota",
    "women_children_goods": "industrial_product_production",  # 工业产品生产许可证 (CCC)
    "daily_consumer_goods": None,
    "other": None,
}
_COMMIT_TAG = b"trace-commit-v1"
_HEX64 = re.compile(r"[0-9a-f]{64}", re.ASCII)
_SALT = re.compile(r"[0-9a-f]{32,128}", re.ASCII)
_CURRENCY = re.compile(r"[A-Z]{3}", re.ASCII)  # ISO 4217 alphabetic code
# RFC 3339 §5.6 date-time with a mandatory offset (the ledger's own rule).
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})", re.ASCII
)
_DIGIT_RUN = re.compile(r"\d(?:[ -]?\d)*", re.ASCII)
_MAX_CHILDREN = 500  # keeps an aggregation entry well under the ledger's 64 KiB

Validator = Callable[[str, Any], Any]


@dataclass(frozen=True)
class Opening:
    """The opening of a commitment: the salt (hex) and the committed value."""

    salt: str
    value: str = field(repr=False)


@dataclass(frozen=True)
class Target:
    """What an event is about: level ``product``, ``batch``, ``item``, ``unit`` or ``event``."""

    level: str
    gtin: str | None = None
    lot: str | None = None
    serial: str | None = None
    sscc: str | None = None

    @property
    def subject(self) -> str:
        """Return the ledger subject (hash chain) of the target."""
        if self.level == "unit":
            assert self.sscc is not None
            return ids.sscc_subject(self.sscc)
        if self.level == "event" or self.gtin is None:
            raise ValueError("a correction takes the subject of the event it corrects")
        if self.level == "product":
            return ids.product_subject(self.gtin)
        assert self.lot is not None
        if self.level == "batch":
            return ids.batch_subject(self.gtin, self.lot)
        assert self.serial is not None
        return ids.item_subject(self.gtin, self.lot, self.serial)

    def fields(self) -> dict[str, str]:
        """Return the target's key fields as they appear in an entry body."""
        keys = {"gtin": self.gtin, "lot": self.lot, "serial": self.serial, "sscc": self.sscc}
        return {k: v for k, v in keys.items() if v is not None}


def ledger_kind(kind: str) -> str:
    """Return the ledger entry kind of event ``kind``: ``trace.<kind>``."""
    return PREFIX + kind


def short_kind(entry_kind: str) -> str:
    """Return the event kind of a ledger entry kind (``trace.sale`` -> ``sale``)."""
    return entry_kind.removeprefix(PREFIX)


def commitment_of(opening: Opening) -> str:
    """Return the commitment (64 hex digits) an opening opens.

    :raises BadEvent: if the salt is not 32-128 lowercase hex digits or the value is empty.
    """
    if not isinstance(opening.salt, str) or not _SALT.fullmatch(opening.salt):
        raise BadEvent("commitment salt must be 32 to 128 lowercase hex digits (128+ random bits)")
    if not isinstance(opening.value, str) or not opening.value:
        raise BadEvent("commitment value must be a non-empty string")
    data = _COMMIT_TAG + b"\x00" + opening.salt.encode() + b"\x00" + opening.value.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def commit(value: str, salt: str | None = None) -> tuple[str, Opening]:
    """Commit to ``value`` (a buyer account, a phone, ...) with a fresh 256-bit salt.

    Returns the commitment to record and the opening to hand to that person.

    :raises BadEvent: if ``value`` is empty or ``salt`` malformed.
    """
    opening = Opening(salt or secrets.token_hex(32), value)
    return commitment_of(opening), opening


def event_time(at: datetime | str | None) -> str:
    """Return ``at`` as RFC 3339 with an offset (now, in UTC, when None).

    :raises BadEvent: on a naive datetime or a string without an offset.
    """
    if at is None:
        at = datetime.now(timezone.utc)
    if isinstance(at, datetime):
        if at.tzinfo is None or at.utcoffset() is None:
            raise BadEvent(f"time {at.isoformat()!r} has no timezone offset")
        text = at.isoformat(timespec="microseconds" if at.microsecond else "seconds")
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    if not isinstance(at, str) or not _RFC3339.fullmatch(at):
        raise BadEvent(f"time {at!r} is not an RFC 3339 date-time with an offset")
    try:
        datetime.fromisoformat(at)
    except ValueError as exc:
        raise BadEvent(f"time {at!r} is not a valid date-time: {exc}") from None
    return at


def check_no_card_number(name: str, text: str) -> None:
    """Refuse ``text`` if a run of 13-19 digits in it passes the Luhn check (a PAN).

    Separators of one space or hyphen inside a run are ignored (``4111 1111 ...``).
    PCI DSS keeps card numbers out of everything we store; a payment is identified
    by the institution's own reference instead.

    :raises CardNumberRefused: naming the field, never echoing the number.
    """
    for match in _DIGIT_RUN.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if 13 <= len(digits) <= 19 and luhn.is_valid(digits):
            raise CardNumberRefused(
                f"{name} contains what looks like a payment card number "
                f"({len(digits)} digits passing the Luhn check): "
                "record the payment reference instead"
            )


# --- field validators: (field name, raw value) -> normalised value ------------------------


def _text(max_len: int) -> Validator:
    def check(name: str, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise BadEvent(f"{name} must be a non-empty string")
        if len(value) > max_len:
            raise BadEvent(f"{name} is {len(value)} characters, more than {max_len}")
        if any(ord(c) < 0x20 and c not in "\n\t" for c in value):
            raise BadEvent(f"{name} contains control characters")
        return value.strip()

    return check


def _int(lo: int, hi: int) -> Validator:
    def check(name: str, value: Any) -> int:
        if type(value) is not int or not lo <= value <= hi:
            raise BadEvent(f"{name} must be an integer from {lo} to {hi}, got {value!r}")
        return value

    return check


def _enum(*values: str) -> Validator:
    def check(name: str, value: Any) -> str:
        if value not in values:
            raise BadEvent(f"{name} must be one of {', '.join(values)}, got {value!r}")
        return str(value)

    return check


def _hex64(name: str, value: Any) -> str:
    if not isinstance(value, str) or not _HEX64.fullmatch(value):
        raise BadEvent(f"{name} must be 64 lowercase hex digits (a SHA-256), got {value!r}")
    return value


def _currency(name: str, value: Any) -> str:
    if not isinstance(value, str) or not _CURRENCY.fullmatch(value):
        raise BadEvent(f"{name} must be an ISO 4217 code such as CNY, got {value!r}")
    return value


def _date(name: str, value: Any) -> str:
    if isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise BadEvent(f"{name} must be a date YYYY-MM-DD, got {value!r}")


def _gln(name: str, value: Any) -> str:
    return ids.gln(value)


def _place(name: str, value: Any) -> str:
    # A GLN (AI 414) when the place has one, else a short description.
    if isinstance(value, str) and value.isdigit() and len(value) == 13:
        return ids.gln(value)
    text: str = _text(200)(name, value)
    return text


_INDEX = _int(0, 2**53 - 1)
_CENTS = _int(0, 10**13)


def _attributes(name: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise BadEvent(f"{name} must be an object of regulated attributes")
    out: dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 64:
            raise BadEvent(f"{name}: key {key!r} must be a string of 1 to 64 characters")
        ok = (
            isinstance(item, (str, bool))
            or type(item) is int
            or (isinstance(item, list) and all(isinstance(x, str) for x in item))
        )
        if not ok:
            raise BadEvent(f"{name}.{key} must be a string, integer, boolean or list of strings")
        out[key] = list(item) if isinstance(item, list) else item
    return out


def _children_items(name: str, value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list) or len(value) > _MAX_CHILDREN:
        raise BadEvent(f"{name} must be a list of at most {_MAX_CHILDREN} items")
    out: list[dict[str, str]] = []
    for i, child in enumerate(value):
        if not isinstance(child, Mapping) or set(child) != {"gtin", "lot", "serial"}:
            raise BadEvent(f"{name}[{i}] must be an object with gtin, lot and serial")
        item = {"gtin": ids.gtin(child["gtin"]), "lot": ids.lot(child["lot"]),
                "serial": ids.serial(child["serial"])}
        if item in out:
            raise BadEvent(f"{name}[{i}] repeats an item")
        out.append(item)
    return out


def _children_units(name: str, value: Any) -> list[str]:
    if not isinstance(value, list) or len(value) > _MAX_CHILDREN:
        raise BadEvent(f"{name} must be a list of at most {_MAX_CHILDREN} SSCCs")
    units = [ids.sscc(v) for v in value]
    if len(set(units)) != len(units):
        raise BadEvent(f"{name} repeats an SSCC")
    return units


# kind -> the levels its target may be: product, batch, item, unit (SSCC), or event.
# fmt: off
LEVELS: dict[str, tuple[str, ...]] = {
    "product": ("product",), "production": ("batch",), "serialisation": ("item",),
    "inspection": ("batch",), "aggregation": ("unit",), "disaggregation": ("unit",),
    "listing": ("item", "unit"), "sale": ("item", "unit"), "payment": ("item",),
    "shipment": ("item", "unit"), "delivery_scan": ("item", "unit"),
    "signing": ("item", "unit"), "review": ("item",), "follow_up_review": ("item",),
    "complaint": ("item",), "return": ("item",), "refund": ("item",),
    "compensation": ("item",), "recall": ("batch",),
    "correction": ("event",),  # about the event at ref_index: its subject is that event's
}
KINDS = tuple(LEVELS)

_R, _O = True, False  # required, optional
# kind -> field -> (validator, required).  Target keys (gtin, lot, serial, sscc) are separate.
FIELDS: dict[str, dict[str, tuple[Validator, bool]]] = {
    "product": {"name": (_text(200), _R), "name_en": (_text(200), _O),
                "category": (_enum(*CATEGORIES), _R), "producer": (_text(200), _R),
                "attributes": (_attributes, _O), "licence_category": (_text(64), _O)},
    "production": {"production_date": (_date, _R), "expiry_date": (_date, _O),
                   "place": (_gln, _O)},
    "serialisation": {},
    "inspection": {"result": (_enum("pass", "fail"), _R), "report_no": (_text(64), _R),
                   "inspecting_body": (_text(200), _R), "place": (_gln, _O)},
    "aggregation": {"items": (_children_items, _O), "units": (_children_units, _O),
                    "place": (_gln, _O)},
    "disaggregation": {"items": (_children_items, _O), "units": (_children_units, _O),
                       "place": (_gln, _O)},
    "listing": {"platform": (_text(100), _R), "shop_id": (_text(100), _R),
                "listing_id": (_text(100), _R)},
    "sale": {"order_id": (_text(100), _R), "buyer_commitment": (_hex64, _R),
             "price_cents": (_CENTS, _R), "currency": (_currency, _R)},
    "payment": {"institution": (_text(100), _R), "reference": (_text(100), _R),
                "amount_cents": (_CENTS, _O), "currency": (_currency, _O)},
    "shipment": {"waybill": (_text(64), _R), "carrier": (_text(100), _R),
                 "weight_g": (_int(1, 10**9), _R), "place": (_place, _O)},
    "delivery_scan": {"place": (_place, _R)},
    "signing": {"signer_commitment": (_hex64, _R), "photo_sha256": (_hex64, _O),
                "place": (_place, _O)},
    "review": {"rating": (_int(1, 5), _R), "text": (_text(2000), _O)},
    "follow_up_review": {"review_index": (_INDEX, _R), "text": (_text(2000), _R)},
    "complaint": {"text": (_text(2000), _R), "category": (_text(64), _O)},
    "return": {"reason": (_text(500), _R), "rma": (_text(64), _O)},
    "refund": {"amount_cents": (_CENTS, _R), "currency": (_currency, _R),
               "reason": (_text(500), _O)},
    "compensation": {"amount_cents": (_int(1, 10**13), _R), "currency": (_currency, _R),
                     "complaint_index": (_INDEX, _R)},
    "recall": {"reason": (_text(500), _R)},
    "correction": {"ref_index": (_INDEX, _R), "reason": (_text(500), _R)},
}
# fmt: on
_TARGET_KEYS = ("gtin", "lot", "serial", "sscc")


def _target(kind: str, raw: Mapping[str, Any]) -> Target:
    levels = LEVELS[kind]
    if levels == ("event",):
        if any(k in raw for k in _TARGET_KEYS):
            raise BadEvent(f"{kind} names the event by ref_index only, not by gtin/lot/serial/sscc")
        return Target("event")
    if "sscc" in raw:
        level = "unit"
    elif "serial" in raw:
        level = "item"
    elif "lot" in raw:
        level = "batch"
    elif "gtin" in raw:
        level = "product"
    else:
        raise BadEvent(f"{kind}: the body names no gtin/lot/serial or sscc")
    if level not in levels:
        raise BadEvent(f"{kind} applies to a {' or '.join(levels)}, not a {level}")
    if level == "unit":
        if any(k in raw for k in ("gtin", "lot", "serial")):
            raise BadEvent(f"{kind}: give either an sscc or gtin/lot/serial, not both")
        return Target("unit", sscc=ids.sscc(raw["sscc"]))
    need = {"product": 1, "batch": 2, "item": 3}[level]
    missing = [k for k in _TARGET_KEYS[:need] if k not in raw]
    if missing:
        raise BadEvent(f"{kind}: missing {', '.join(missing)}")
    return Target(
        level,
        gtin=ids.gtin(raw["gtin"]),
        lot=ids.lot(raw["lot"]) if need > 1 else None,
        serial=ids.serial(raw["serial"]) if need > 2 else None,
    )


def parse_event(kind: str, raw: Mapping[str, Any]) -> tuple[Target, dict[str, Any]]:
    """Validate ``raw`` as the body of a ``kind`` event; return its target and fields.

    :raises BadEvent: for an unknown kind, a missing, unknown or invalid field.
    :raises BadIdentifier: for an invalid GTIN, lot, serial, SSCC or GLN.
    :raises CardNumberRefused: when a payment field holds a card number.
    """
    if kind not in FIELDS:
        raise BadEvent(f"unknown event kind {kind!r}; known: {', '.join(KINDS)}")
    if not isinstance(raw, Mapping):
        raise BadEvent(f"{kind}: the body must be an object")
    spec = FIELDS[kind]
    unknown = sorted(set(raw) - set(spec) - set(_TARGET_KEYS))
    if unknown:
        raise BadEvent(f"{kind}: unknown field(s) {', '.join(unknown)}")
    target = _target(kind, raw)
    fields: dict[str, Any] = {}
    for name, (check, required) in spec.items():
        if name in raw and raw[name] is not None:
            fields[name] = check(name, raw[name])
        elif required:
            raise BadEvent(f"{kind}: missing required field {name}")
    if kind == "payment":
        for name in ("institution", "reference"):
            check_no_card_number(name, fields[name])
        if ("amount_cents" in fields) != ("currency" in fields):
            raise BadEvent("payment: give amount_cents and currency together")
    if kind == "aggregation" and not (fields.get("items") or fields.get("units")):
        raise BadEvent("aggregation: give at least one child item or unit")
    return target, fields
