"""ZPL II for thermal label printers: the printer draws the QR and the barcode itself.

Per batch (same product, lot, dates, producer), one stored format is
downloaded with ``^DF``; every label then recalls it with ``^XF`` and sends
only the QR data and the serial (``^FN`` fields).  Nothing is rasterised on
our side, so a run costs string formatting only (limits: 100,000 labels
within 15 s).

* ``^CI28``: field data is UTF-8; Chinese text uses a printer-resident
  TrueType font, ``E:ANMDS.TTF`` by default (Zebra's "Andale Mono Simplified
  Chinese"; any CJK .TTF stored on the printer works), aliased with ``^CW``.
* ``^BQN,2,m`` + ``^FDMA,<uri>``: QR Model 2, error correction M, automatic
  input mode, ``m`` dots per module.
* ``^BEN,h,Y,N`` + 12 digits: EAN-13 (the printer adds the check digit);
  ``^BUN`` for UPC-A with 11 digits.
* Text fields use ``^FH_`` so ``^``, ``~`` and ``_`` travel as ``_5E``,
  ``_7E``, ``_5F``; QR data is a URI, which can contain neither ``^`` nor ``~``
  (refused otherwise) but may contain ``_``, so it is sent without ``^FH``.

Coordinates come from the same 50 x 30 mm layout as the PNG/SVG/PDF label.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import BinaryIO

from labels import symbols
from labels.errors import SymbolError
from labels.templates import (
    static_part,
    LABEL_H_MM,
    LABEL_W_MM,
    QR_BOX_MM,
    SERIAL_VALUE,
    LabelContent,
    Modules,
    Text,
    static_layout,
)

__all__ = ["DEFAULT_PRINTER_FONT", "format_zpl", "label_zpl", "write_zpl"]

DEFAULT_PRINTER_FONT = "E:ANMDS.TTF"


def _fh(text: str) -> str:
    return "".join(f"_{ord(c):02X}" if c in "^~_" or ord(c) < 32 else c for c in text)


def _text(it: Text, dpmm: float) -> str:
    h = max(10, round(it.size * dpmm))
    top = max(
        0, round((it.y - it.size * 0.8) * dpmm)
    )  # ^FO is the top-left corner; baseline ~0.8 em down
    return f"^FO{round(it.x * dpmm)},{top}^AJN,{h},{h}^FH_^FD{_fh(it.text)}^FS"


@functools.lru_cache(maxsize=64)
def _qr_magnification(uri_len: int, dpmm: float) -> int:
    # Every URI of a run has the same shape, so its QR version depends on the length only.
    sym = symbols.qr("h" * uri_len, ecc="M")
    mag = int(QR_BOX_MM * dpmm) // (sym.width + 8)
    if mag < 2:
        raise SymbolError(f"QR version {sym.version} is too dense for ZPL at {dpmm:g} dots/mm")
    return min(mag, 10)


def _barcode(it: Modules, content: LabelContent, dpmm: float) -> str:
    dots = max(2, round(it.module * dpmm))
    h = round((it.bar_height or 0) * dpmm)
    if content.barcode == "ean13":
        cmd, digits = "^BEN", content.gtin[1:13]  # the printer appends the check digit
    else:
        cmd, digits = "^BUN", content.gtin[2:13]
    return f"^FO{round(it.x * dpmm)},{round(it.y * dpmm)}^BY{dots}{cmd},{h},Y,N^FD{digits}^FS"


def format_zpl(
    name: str, content: LabelContent, *, dpi: int = 300, font: str = DEFAULT_PRINTER_FONT
) -> str:
    """Return the ``^DF`` stored-format download for the batch of ``content``.

    Field 1 is the QR data, field 2 the serial.

    :raises LabelError: (a subclass) if the static label data cannot be laid out.
    """
    dpmm = dpi / 25.4
    mag = _qr_magnification(len(content.uri), dpmm)
    parts = [
        f"^XA^DFR:{name}.ZPL^FS^CI28^PW{round(LABEL_W_MM * dpmm)}^LL{round(LABEL_H_MM * dpmm)}"
        f"^LH0,0^CWJ,{font}"
    ]
    parts.append(f"^FO{4 * mag},{4 * mag}^BQN,2,{mag}^FN1^FS")
    hrt = {content.gtin[1:], content.gtin[2:]}  # printed by the printer under its barcode
    static = static_part(content)
    for it in static_layout(static, dpi):
        if isinstance(it, Modules):
            parts.append(_barcode(it, content, dpmm))
        elif it.text not in hrt:
            parts.append(_text(it, dpmm))
    x, y, size = SERIAL_VALUE
    parts.append(
        f"^FO{round(x * dpmm)},{round((y - size * 0.8) * dpmm)}"
        f"^AJN,{round(size * dpmm)},{round(size * dpmm)}^FN2^FS"
    )
    parts.append("^XZ\n")
    return "".join(parts)


def label_zpl(name: str, uri: str, serial: str) -> str:
    """Return the ``^XF`` recall of stored format ``name`` printing one label.

    :raises SymbolError: if ``uri`` contains ``^`` or ``~`` (ZPL command prefixes).
    """
    if "^" in uri or "~" in uri:
        raise SymbolError(f"QR data must not contain '^' or '~' in ZPL: {uri[:60]!r}")
    return f"^XA^XFR:{name}.ZPL^CI28^FN1^FDMA,{uri}^FS^FN2^FH_^FD{_fh(serial)}^FS^XZ\n"


def write_zpl(
    labels: Iterable[LabelContent],
    out: BinaryIO,
    *,
    dpi: int = 300,
    font: str = DEFAULT_PRINTER_FONT,
) -> int:
    """Write ZPL II for ``labels`` to ``out`` (UTF-8) and return the label count.

    One stored format is downloaded per batch, then recalled per label.

    :raises LabelError: (a subclass) for data that cannot be printed.
    """
    formats: dict[tuple[object, ...], str] = {}
    count = 0
    buf: list[str] = []
    for c in labels:
        key = (
            c.gtin,
            c.lot,
            c.product_name,
            c.producer,
            c.production,
            c.expiry,
            c.barcode,
            len(c.uri),
        )
        name = formats.get(key)
        if name is None:
            name = formats[key] = f"TL{len(formats):04d}"
            buf.append(format_zpl(name, c, dpi=dpi, font=font))
        buf.append(label_zpl(name, c.uri, c.serial))
        count += 1
        if len(buf) >= 1024:
            out.write("".join(buf).encode("utf-8"))
            buf = []
    out.write("".join(buf).encode("utf-8"))
    return count
