"""The 50 x 30 mm product label: layout once, draw as PNG, SVG or (in sheets) PDF.

:func:`layout_label` turns a :class:`LabelContent` into drawing items in
millimetres (origin top-left): module blocks (QR, EAN-13) and text lines.
Items are split into a *static* part (product, producer, GTIN barcode, lot,
dates: the same for a whole batch, so the PDF draws it once as a Form
XObject) and a *dynamic* part (the QR and the serial: unique per label).

Module sizes are whole device pixels at ``dpi`` so every module prints the
same width.  At 300 dpi a version-9 QR gets 4-pixel (0.34 mm) modules and the
EAN-13 3-pixel (0.254 mm, 77 % magnification) bars.
"""

from __future__ import annotations

import dataclasses

import datetime as _dt
import functools
import io
from dataclasses import dataclass
from xml.sax.saxutils import escape

from PIL import Image, ImageDraw

from labels import gs1, symbols
from labels.errors import SymbolError
from labels.fonts import pil_font
from labels.writers import svg_path

__all__ = [
    "static_part",
    "LABEL_H_MM",
    "LABEL_W_MM",
    "QR_BOX_MM",
    "SERIAL_VALUE",
    "TEMPLATE_WRITERS",
    "LabelContent",
    "LabelLayout",
    "Modules",
    "Text",
    "layout_label",
    "render_label",
    "static_layout",
]

LABEL_W_MM, LABEL_H_MM = 50.0, 30.0
QR_BOX_MM = 21.0  # QR including its 4-module quiet zone
_TEXT_X = QR_BOX_MM + 0.3  # text column, fixed whatever the QR version
_SERIAL_PREFIX = "序列号"
_SERIAL_VALUE_X = _TEXT_X + 3 * 2.4 + 0.7  # three full-width CJK glyphs at 2.4 mm, then a gap
_BAR_Y_MM, _BAR_H_MM = 21.6, 6.0
_NAME_Y, _LOT_Y, _SERIAL_Y, _PROD_Y, _EXP_Y = 3.6, 7.2, 10.8, 14.4, 18.0  # text baselines
SERIAL_VALUE = (_SERIAL_VALUE_X, _SERIAL_Y, 2.4)  # x, baseline y, size (mm) of the serial value


@dataclass(frozen=True)
class LabelContent:
    """What one label shows.  ``uri`` is the signed Digital Link encoded in the QR."""

    uri: str
    gtin: str
    lot: str
    serial: str
    product_name: str
    producer: str
    production: _dt.date | None = None
    expiry: _dt.date | None = None
    barcode: str = "ean13"  # "ean13", "upca" or "none"

    def __post_init__(self) -> None:
        """Normalise the GTIN to 14 digits and check the barcode choice.

        :raises IdentifierError: (a subclass) for an invalid GTIN.
        :raises SymbolError: for an unknown barcode kind.
        """
        object.__setattr__(self, "gtin", gs1.validate_gtin(self.gtin))
        if self.barcode not in ("ean13", "upca", "none"):
            raise SymbolError(f"label barcode must be ean13, upca or none, got {self.barcode!r}")



def static_part(content: LabelContent) -> LabelContent:
    """Return ``content`` without what changes from label to label (URI and serial).

    Every label of a batch shares this part, so writers lay it out once per batch.
    """
    return dataclasses.replace(content, uri="", serial="")

@dataclass(frozen=True)
class Modules:
    """A block of modules at (x, y) mm; ``bar_height`` set means one row drawn as bars that tall."""

    x: float
    y: float
    module: float
    rows: tuple[str, ...]
    bar_height: float | None = None


@dataclass(frozen=True)
class Text:
    """One line of text; (x, y) is the left end of the baseline, ``size`` the em size, all in mm."""

    x: float
    y: float
    size: float
    text: str


Item = Modules | Text


@dataclass(frozen=True)
class LabelLayout:
    """The drawing items of one label; ``static_key`` identifies the static part for caching."""

    static_key: LabelContent
    static: tuple[Item, ...]
    dynamic: tuple[Item, ...]


@functools.lru_cache(maxsize=4096)
def _char_em(c: str) -> float:
    return float(pil_font(100).getlength(c)) / 100.0


def _width_em(text: str) -> float:
    # Sum of cached per-character advances (no kerning): exact enough to fit a line, and
    # free for the unique serial of every label.
    return sum(_char_em(c) for c in text)


def _fit(text: str, size: float, width: float, min_size: float) -> tuple[str, float]:
    while _width_em(text) * size > width and size > min_size:
        size = max(min_size, size - 0.2)
    while text and _width_em(text) * size > width:
        text = text[:-2] + "…" if len(text) > 1 else ""
    return text, size


def _px_mm(px: int, dpi: int) -> float:
    return px * 25.4 / dpi


def _date(d: _dt.date | None) -> str:
    return d.isoformat() if d else "—"


@functools.lru_cache(maxsize=256)
def static_layout(content: LabelContent, dpi: int = 300) -> tuple[Item, ...]:
    """Return the static items of a label (all but QR and serial value); cached per batch.

    :raises SymbolError, IdentifierError: if the GTIN does not fit the chosen barcode.
    """
    text_x = _TEXT_X
    items: list[Item] = [Text(text_x, _SERIAL_Y, 2.4, _SERIAL_PREFIX)]
    width = LABEL_W_MM - text_x - 0.5
    name, size = _fit(content.product_name, 3.0, width, 2.2)
    items.append(Text(text_x, _NAME_Y, size, name))
    lines = (
        (_LOT_Y, f"批号 {content.lot}"),
        (_PROD_Y, f"生产日期 {_date(content.production)}"),
        (_EXP_Y, f"有效期至 {_date(content.expiry)}"),
    )
    for y, line in lines:
        t, s = _fit(line, 2.4, width, 1.8)
        items.append(Text(text_x, y, s, t))
    bar_w = 0.0
    if content.barcode != "none":
        sym = (
            symbols.ean13(content.gtin)
            if content.barcode == "ean13"
            else symbols.upca(content.gtin)
        )
        m = _px_mm(max(2, round(0.254 * dpi / 25.4)), dpi)
        bar_w = (sym.quiet[0] + sym.width + sym.quiet[1]) * m
        items.append(Modules(sym.quiet[0] * m, _BAR_Y_MM, m, sym.rows, _BAR_H_MM))
        t, s = _fit(sym.text, 2.2, bar_w, 1.6)
        items.append(Text((bar_w - _width_em(t) * s) / 2, _BAR_Y_MM + _BAR_H_MM + 2.0, s, t))
    px = max(bar_w, text_x) + 0.3
    producer, s = _fit(content.producer, 2.2, LABEL_W_MM - px - 0.5, 1.6)
    items.append(Text(px, 26.0, s, producer))
    return tuple(items)


def layout_label(content: LabelContent, *, dpi: int = 300) -> LabelLayout:
    """Return the drawing items of ``content`` on a 50 x 30 mm label for a ``dpi`` device.

    The dynamic part is the QR and the serial value (always ASCII: CSET 82).

    :raises SymbolError: if the URI needs a QR too dense for the label (modules below 2 px) or
        the GTIN does not fit the chosen retail barcode.
    :raises IdentifierError: (a subclass) for an invalid GTIN.
    """
    qr = symbols.qr(content.uri, ecc="M")
    mod_px = int(QR_BOX_MM * dpi / 25.4) // (qr.width + 8)
    if mod_px < 2:
        raise SymbolError(
            f"QR version {qr.version} is too dense for a {QR_BOX_MM} mm box at {dpi} dpi"
        )
    m = _px_mm(mod_px, dpi)
    serial, s = _fit(content.serial, SERIAL_VALUE[2], LABEL_W_MM - _SERIAL_VALUE_X - 0.5, 1.6)
    dynamic = (Modules(4 * m, 4 * m, m, qr.rows), Text(_SERIAL_VALUE_X, _SERIAL_Y, s, serial))
    static_content = static_part(content)
    return LabelLayout(static_content, static_layout(static_content, dpi), dynamic)


def _draw_png(layout: LabelLayout, dpi: int) -> Image.Image:
    k = dpi / 25.4
    img = Image.new("L", (round(LABEL_W_MM * k), round(LABEL_H_MM * k)), 255)
    draw = ImageDraw.Draw(img)
    for it in (*layout.static, *layout.dynamic):
        if isinstance(it, Text):
            draw.text(
                (it.x * k, it.y * k),
                it.text,
                fill=0,
                font=pil_font(round(it.size * k)),
                anchor="ls",
            )
            continue
        m = round(it.module * k)
        rows = it.rows
        block = Image.frombytes(
            "L",
            (len(rows[0]), len(rows)),
            "".join(rows).translate(str.maketrans("01", "\xff\x00")).encode("latin-1"),
        )
        h = round(it.bar_height * k) if it.bar_height is not None else len(rows) * m
        img.paste(
            block.resize((len(rows[0]) * m, h), Image.Resampling.NEAREST),
            (round(it.x * k), round(it.y * k)),
        )
    return img


def _png(content: LabelContent, dpi: int) -> bytes:
    buf = io.BytesIO()
    _draw_png(layout_label(content, dpi=dpi), dpi).save(buf, "PNG", dpi=(dpi, dpi))
    return buf.getvalue()


def _svg(content: LabelContent, dpi: int) -> bytes:
    layout = layout_label(content, dpi=dpi)
    body = []
    for it in (*layout.static, *layout.dynamic):
        if isinstance(it, Text):
            body.append(
                f'<text x="{it.x:.3f}" y="{it.y:.3f}" font-size="{it.size:.2f}">'
                f"{escape(it.text)}</text>"
            )
        elif it.bar_height is None:
            body.append(f'<path d="{svg_path(it.rows, it.x, it.y, it.module)}"/>')
        else:
            d = svg_path(it.rows, it.x, 0, it.module)
            body.append(
                f'<path transform="translate(0 {it.y:.3f}) scale(1 {it.bar_height / it.module:g})" '
                f'd="{d}"/>'
            )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{LABEL_W_MM:g}mm" '
        f'height="{LABEL_H_MM:g}mm" viewBox="0 0 {LABEL_W_MM:g} {LABEL_H_MM:g}">'
        '<rect width="100%" height="100%" fill="#fff"/>'
        '<g fill="#000" font-family="WenQuanYi Micro Hei, Noto Sans CJK SC, sans-serif">'
        f"{''.join(body)}</g></svg>"
    ).encode()


TEMPLATE_WRITERS = {"png": _png, "svg": _svg}


def render_label(content: LabelContent, fmt: str = "png", *, dpi: int = 300) -> bytes:
    """Render one 50 x 30 mm label as ``png`` or ``svg`` bytes.

    :raises SymbolError: for an unknown format or a QR too dense for the label.
    """
    try:
        writer = TEMPLATE_WRITERS[fmt]
    except KeyError:
        raise SymbolError(
            f"unknown label format {fmt!r}; known: {', '.join(sorted(TEMPLATE_WRITERS))}"
        ) from None
    return writer(content, dpi)
