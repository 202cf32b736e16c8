"""Payload -> symbol: encode data as a module matrix with Zint.

A :class:`Symbol` is only a matrix plus what a writer needs to draw it
(quiet zones, human-readable text).  Writers (:mod:`labels.writers`), the
label templates, the PDF sheets all draw from it; none re-encodes.  Zint
(zint-bindings) is ~30x faster than pure-Python QR encoders, which is what
makes 100,000-label runs feasible (docs/limits).

Symbologies and their use here:

* ``qr`` -- the signed Digital Link (ISO/IEC 18004; error correction M);
* ``ean13`` / ``upca`` -- retail GTIN-13 / GTIN-12 (GenSpecs §5.2, EAN/UPC);
* ``gs1_128`` -- SSCC and other AI data on logistic labels (GenSpecs §5.4);
* ``code128`` -- internal codes (ISO/IEC 15417);
* ``gs1_datamatrix`` -- drug packs (GenSpecs §5.6; ISO/IEC 16022).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import zint

from labels import gs1
from labels.errors import SymbolError

__all__ = ["QR_ECC", "Symbol", "code128", "ean13", "gs1_128", "gs1_datamatrix", "qr", "upca"]

QR_ECC = {"L": 1, "M": 2, "Q": 3, "H": 4}  # ISO/IEC 18004 §7.5.1 levels -> Zint option_1
_ROW_BYTES = 144  # Zint encoded_data: 200 rows x 144 bytes, bit x of a row = byte x>>3, bit x&7


@dataclass(frozen=True)
class Symbol:
    """An encoded barcode: rows of modules (``"1"`` = dark) and drawing hints.

    ``data`` is exactly what a scanner reports: the URI for QR, the digits for
    EAN/UPC, the element string (with GS separators) for GS1 symbols.
    ``quiet`` is the quiet zone in modules (left, right); 2D symbols use the
    left value on all four sides.  Linear symbols have one row.
    """

    kind: str
    data: str
    rows: tuple[str, ...]
    quiet: tuple[int, int]
    text: str = ""
    version: int | None = None

    @property
    def width(self) -> int:
        """Width in modules, without quiet zone."""
        return len(self.rows[0])

    @property
    def height(self) -> int:
        """Height in modules (1 for linear symbols)."""
        return len(self.rows)

    @property
    def is_2d(self) -> bool:
        """True for matrix symbols (QR, Data Matrix)."""
        return self.kind in ("qr", "gs1_datamatrix")


def _encode(
    symbology: zint.Symbology,
    data: str,
    *,
    gs1_mode: bool = False,
    option_1: int = 0,
    option_2: int = 0,
) -> zint.Symbol:
    s = zint.Symbol()
    s.symbology = symbology
    if gs1_mode:
        s.input_mode = zint.InputMode.GS1
    if option_1:
        s.option_1 = option_1
    if option_2:
        s.option_2 = option_2
    try:
        s.encode(data.encode("utf-8"))
    except RuntimeError as e:  # Zint reports bad data as "Error NNN: ..."
        raise SymbolError(f"{symbology.name}: cannot encode {data[:60]!r}: {e}") from None
    return s


def _rows(s: zint.Symbol) -> tuple[str, ...]:
    raw = s.encoded_data.tobytes()
    w, nbytes = s.width, (s.width + 7) // 8
    out = []
    for y in range(s.rows):
        n = int.from_bytes(raw[y * _ROW_BYTES : y * _ROW_BYTES + nbytes], "little")
        out.append(format(n, f"0{nbytes * 8}b")[::-1][:w])  # LSB-first -> left-to-right
    return tuple(out)


def qr(data: str, *, ecc: str = "M", max_version: int = 40) -> Symbol:
    """Encode ``data`` (UTF-8) as a QR Code Model 2 with the smallest version that fits.

    Zint picks the optimal mode segmentation and the mask (ISO/IEC 18004 §7.8).

    :raises SymbolError: if ``ecc`` is not L/M/Q/H or the data needs a version above
        ``max_version``.
    """
    if ecc not in QR_ECC:
        raise SymbolError(f"QR error correction must be one of L, M, Q, H, got {ecc!r}")
    s = _encode(zint.Symbology.QRCODE, data, option_1=QR_ECC[ecc])
    version = (s.width - 17) // 4  # ISO/IEC 18004 §6.3.1: size = 17 + 4 x version
    if version > max_version:
        raise SymbolError(
            f"QR: {len(data)} characters need version {version}-{ecc}, "
            f"above the limit {max_version}"
        )
    return Symbol("qr", data, _rows(s), (4, 4), "", version)  # quiet zone 4X: §6.3.8


def _retail(
    gtin: str, digits: int, kind: str, symbology: zint.Symbology, quiet: tuple[int, int]
) -> Symbol:
    g14 = gs1.validate_gtin(gtin)
    if g14[: 14 - digits].strip("0"):
        raise SymbolError(f"{kind}: GTIN {g14} does not fit in {digits} digits")
    value = g14[14 - digits :]
    s = _encode(symbology, value)
    return Symbol(kind, value, _rows(s), quiet, s.text)


def ean13(gtin: str) -> Symbol:
    """Encode a GTIN-13 (or GTIN-14 with a leading 0, or shorter GTIN padded) as EAN-13.

    Quiet zones 11X left, 7X right (GenSpecs §5.2.3.4).

    :raises IdentifierError: (a subclass) if the GTIN is invalid.
    :raises SymbolError: if it needs 14 digits.
    """
    return _retail(gtin, 13, "ean13", zint.Symbology.EANX_CHK, (11, 7))


def upca(gtin: str) -> Symbol:
    """Encode a GTIN-12 as UPC-A (quiet zones 9X each side, GenSpecs §5.2.3.4).

    :raises IdentifierError: (a subclass) if the GTIN is invalid.
    :raises SymbolError: if it does not fit in 12 digits.
    """
    return _retail(gtin, 12, "upca", zint.Symbology.UPCA_CHK, (9, 9))


def _bracketed(ais: Sequence[tuple[str, str]]) -> str:
    gs1.element_string(ais)  # validate first, with our own messages
    return "".join(f"[{ai}]{v}" for ai, v in ais)


def gs1_128(ais: Sequence[tuple[str, str]]) -> Symbol:
    """Encode AI data (e.g. ``[("00", sscc)]``) as GS1-128; quiet zones 10X (GenSpecs §5.4.4.4).

    :raises IdentifierError: (a subclass) for invalid AI data.
    :raises SymbolError: if Zint refuses the data.
    """
    s = _encode(zint.Symbology.GS1_128, _bracketed(ais), gs1_mode=True)
    return Symbol("gs1_128", gs1.element_string(ais), _rows(s), (10, 10), gs1.hri(ais))


def code128(text: str) -> Symbol:
    """Encode printable ASCII ``text`` as Code 128 (internal codes; quiet zones 10X).

    :raises SymbolError: for an empty text or non-printable/non-ASCII characters.
    """
    bad = [c for c in text if not " " <= c <= "~"]
    if not text or bad:
        raise SymbolError(f"Code 128: text {text!r} must be non-empty printable ASCII")
    s = _encode(zint.Symbology.CODE128, text)
    return Symbol("code128", text, _rows(s), (10, 10), text)


def gs1_datamatrix(ais: Sequence[tuple[str, str]]) -> Symbol:
    """Encode AI data (e.g. 01, 17, 10, 21 of a drug pack) as GS1 DataMatrix (ECC 200, quiet 1X).

    :raises IdentifierError: (a subclass) for invalid AI data.
    :raises SymbolError: if Zint refuses the data.
    """
    s = _encode(zint.Symbology.DATAMATRIX, _bracketed(ais), gs1_mode=True)
    return Symbol("gs1_datamatrix", gs1.element_string(ais), _rows(s), (1, 1), gs1.hri(ais))
