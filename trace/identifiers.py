"""Identifiers: GS1 key validation (through ``labels.gs1``), ledger subjects, EPC URIs.

The GS1 rules (GenSpecs §7.9.1 check digits, §7.11 character set 82) live in one
place, :mod:`labels.gs1`; this module only wraps its errors as
:class:`~trace.errors.BadIdentifier` (``extra["reason"]`` keeps the labels code).

Ledger subjects (the per-object hash chains of ARCHITECTURE.md) are built here
and nowhere else::

    product:<gtin>    batch:<gtin>:<lot>    item:<gtin>:<lot>:<serial>    sscc:<sscc>

CSET 82 allows ``:`` and ``%`` in lots and serials, so both are percent-encoded
inside a subject: lot ``A:B`` serial ``C`` and lot ``A`` serial ``B:C`` must not
share one chain.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from labels import gs1
from labels.digital_link import CANONICAL_BASE, percent_encode
from labels.errors import LabelError
from trace.errors import BadIdentifier

__all__ = [
    "ItemKey",
    "BatchKey",
    "gtin",
    "sscc",
    "gln",
    "lot",
    "serial",
    "product_subject",
    "batch_subject",
    "item_subject",
    "sscc_subject",
    "item_uri",
    "batch_uri",
    "product_uri",
    "sscc_uri",
    "gln_uri",
]


class BatchKey(NamedTuple):
    """A batch: GTIN-14 and lot (AI 10)."""

    gtin: str
    lot: str


class ItemKey(NamedTuple):
    """A serialised item: GTIN-14, lot (AI 10) and serial (AI 21)."""

    gtin: str
    lot: str
    serial: str


def _wrap(check: Callable[[str], str], value: object, what: str) -> str:
    if not isinstance(value, str):
        raise BadIdentifier(
            f"{what} must be a string, got {type(value).__name__}",
            extra={"reason": "trace.bad_type"},
        )
    try:
        return check(value)
    except LabelError as exc:
        raise BadIdentifier(exc.detail, extra={"reason": exc.code}) from exc


def gtin(value: object) -> str:
    """Validate a GTIN-8/12/13/14 and return it as GTIN-14 (GenSpecs §7.9.1).

    :raises BadIdentifier: naming the bad length, character or check digit.
    """
    return _wrap(gs1.validate_gtin, value, "GTIN")


def sscc(value: object) -> str:
    """Validate an 18-digit SSCC (AI 00) and return it.

    :raises BadIdentifier: naming the bad length, character or check digit.
    """
    return _wrap(gs1.validate_sscc, value, "SSCC")


def gln(value: object) -> str:
    """Validate a 13-digit GLN (AI 414) and return it.

    :raises BadIdentifier: naming the bad length, character or check digit.
    """
    return _wrap(gs1.validate_gln, value, "GLN")


def lot(value: object) -> str:
    """Validate a lot number (AI 10: 1-20 characters of CSET 82, GenSpecs §7.11).

    :raises BadIdentifier: naming the bad length or the first forbidden character.
    """
    return _wrap(gs1.validate_lot, value, "lot")


def serial(value: object) -> str:
    """Validate a serial number (AI 21: 1-20 characters of CSET 82, GenSpecs §7.11).

    :raises BadIdentifier: naming the bad length or the first forbidden character.
    """
    return _wrap(gs1.validate_serial, value, "serial")


def _part(value: str) -> str:
    return value.replace("%", "%25").replace(":", "%3A")


def product_subject(gtin14: str) -> str:
    """Return the ledger subject of a product: ``product:<gtin>``."""
    return f"product:{gtin14}"


def batch_subject(gtin14: str, lot_: str) -> str:
    """Return the ledger subject of a batch: ``batch:<gtin>:<lot>``."""
    return f"batch:{gtin14}:{_part(lot_)}"


def item_subject(gtin14: str, lot_: str, serial_: str) -> str:
    """Return the ledger subject of an item: ``item:<gtin>:<lot>:<serial>``."""
    return f"item:{gtin14}:{_part(lot_)}:{_part(serial_)}"


def sscc_subject(sscc_: str) -> str:
    """Return the ledger subject of a logistic unit: ``sscc:<sscc>``."""
    return f"sscc:{sscc_}"


# GS1 Digital Link URI Syntax 1.2 §4.11: the canonical URI is https://id.gs1.org + path.
def item_uri(gtin14: str, lot_: str | None, serial_: str, base: str = CANONICAL_BASE) -> str:
    """Return the Digital Link of an item, ``<base>/01/<gtin>[/10/<lot>]/21/<serial>``."""
    middle = f"/10/{percent_encode(lot_)}" if lot_ is not None else ""
    return f"{base}/01/{gtin14}{middle}/21/{percent_encode(serial_)}"


def batch_uri(gtin14: str, lot_: str, base: str = CANONICAL_BASE) -> str:
    """Return the Digital Link of a batch (an EPC class), ``<base>/01/<gtin>/10/<lot>``."""
    return f"{base}/01/{gtin14}/10/{percent_encode(lot_)}"


def product_uri(gtin14: str, base: str = CANONICAL_BASE) -> str:
    """Return the Digital Link of a product class, ``<base>/01/<gtin>``."""
    return f"{base}/01/{gtin14}"


def sscc_uri(sscc_: str, base: str = CANONICAL_BASE) -> str:
    """Return the Digital Link of a logistic unit, ``<base>/00/<sscc>``."""
    return f"{base}/00/{sscc_}"


def gln_uri(gln_: str, base: str = CANONICAL_BASE) -> str:
    """Return the Digital Link of a location, ``<base>/414/<gln>``."""
    return f"{base}/414/{gln_}"
