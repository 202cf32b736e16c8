"""Symbol -> PNG or SVG.  Writers are pure: a matrix in, bytes out.

One dict, :data:`WRITERS`, maps a format name to its writer; :func:`render`
is the single entry point.  Sizes are physical: ``module_mm`` (the X
dimension) and, for linear symbols, ``bar_height_mm``; PNG pixels follow from
``dpi`` (module size rounded to whole pixels, never below 1, so every module
is the same width: scanners need that more than exact millimetres).
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from xml.sax.saxutils import escape

from PIL import Image, ImageDraw

from labels.errors import SymbolError
from labels.fonts import pil_font
from labels.symbols import Symbol

__all__ = ["WRITERS", "RenderOptions", "module_px", "render", "svg_path", "symbol_image"]

_RUN = re.compile("1+")
_TO_L = str.maketrans("01", "\xff\x00")  # module -> 8-bit grey: light 255, dark 0


@dataclass(frozen=True)
class RenderOptions:
    """Physical size and resolution of a rendered symbol."""

    dpi: int = 300
    module_mm: float = 0.33  # X dimension; GenSpecs §5.2.3: EAN-13 nominal 0.33 mm
    bar_height_mm: float = 15.0  # linear symbols only
    text: bool = True  # human-readable text under linear symbols


def module_px(module_mm: float, dpi: int) -> int:
    """Return the module size in whole pixels for ``module_mm`` at ``dpi`` (at least 1)."""
    return max(1, round(module_mm * dpi / 25.4))


def symbol_image(
    symbol: Symbol, *, module: int, bar_height: int = 0, text: bool = True
) -> Image.Image:
    """Return an 8-bit greyscale image of ``symbol`` with its quiet zones, ``module`` px per module.

    Linear symbols get bars ``bar_height`` px high (default 50 modules) and,
    with ``text``, their human-readable text underneath.
    """
    ql, qr_ = symbol.quiet
    if symbol.is_2d:
        q = ql
        w = symbol.width + 2 * q
        rows = ["0" * w] * q + ["0" * q + r + "0" * q for r in symbol.rows] + ["0" * w] * q
        img = Image.frombytes("L", (w, len(rows)), "".join(rows).translate(_TO_L).encode("latin-1"))
        return img.resize((w * module, len(rows) * module), Image.Resampling.NEAREST)
    row = "0" * ql + symbol.rows[0] + "0" * qr_
    bar_h = bar_height or 50 * module
    bars = Image.frombytes("L", (len(row), 1), row.translate(_TO_L).encode("latin-1"))
    bars = bars.resize((len(row) * module, bar_h), Image.Resampling.NEAREST)
    if not (text and symbol.text):
        return bars
    size = max(8, 9 * module)
    font = pil_font(size)
    out = Image.new("L", (bars.width, bar_h + size + module * 2), 255)
    out.paste(bars, (0, 0))
    ImageDraw.Draw(out).text(
        (bars.width // 2, bar_h + module), symbol.text, fill=0, font=font, anchor="mt"
    )
    return out


def _png(symbol: Symbol, opts: RenderOptions) -> bytes:
    m = module_px(opts.module_mm, opts.dpi)
    img = symbol_image(
        symbol, module=m, bar_height=round(opts.bar_height_mm * opts.dpi / 25.4), text=opts.text
    )
    buf = io.BytesIO()
    img.save(buf, "PNG", dpi=(opts.dpi, opts.dpi), optimize=False)
    return buf.getvalue()


def svg_path(
    rows: tuple[str, ...] | list[str], x0: float = 0, y0: float = 0, unit: float = 1.0
) -> str:
    """Return SVG path data filling the dark modules of ``rows``: one sub-path per run."""
    parts = []
    for y, row in enumerate(rows):
        for m in _RUN.finditer(row):
            x, w = m.start(), m.end() - m.start()
            parts.append(
                f"M{x0 + x * unit:g} {y0 + y * unit:g}h{w * unit:g}v{unit:g}h{-w * unit:g}z"
            )
    return "".join(parts)


def _svg(symbol: Symbol, opts: RenderOptions) -> bytes:
    x = opts.module_mm
    ql, qr_ = symbol.quiet
    if symbol.is_2d:
        w = (symbol.width + 2 * ql) * x
        h = (symbol.height + 2 * ql) * x
        body = f'<path d="{svg_path(symbol.rows, ql * x, ql * x, x)}"/>'
    else:
        w = (ql + symbol.width + qr_) * x
        bar_h = opts.bar_height_mm
        bars = svg_path([symbol.rows[0]], ql * x, 0, x)
        body = f'<path transform="scale(1 {bar_h / x:g})" d="{bars}"/>'
        h = bar_h
        if opts.text and symbol.text:
            fs = 9 * x
            body += (
                f'<text x="{w / 2:g}" y="{bar_h + fs:g}" font-size="{fs:g}" text-anchor="middle" '
                f'font-family="WenQuanYi Micro Hei, sans-serif">{escape(symbol.text)}</text>'
            )
            h = bar_h + fs * 1.3
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w:g}mm" height="{h:g}mm" '
        f'viewBox="0 0 {w:g} {h:g}">'
        f'<rect width="{w:g}" height="{h:g}" fill="#fff"/><g fill="#000">{body}</g></svg>'
    ).encode()


Writer = Callable[[Symbol, RenderOptions], bytes]
WRITERS: dict[str, Writer] = {"png": _png, "svg": _svg}


def render(symbol: Symbol, fmt: str, options: RenderOptions | None = None) -> bytes:
    """Render ``symbol`` in format ``fmt`` (a key of :data:`WRITERS`) and return the bytes.

    :raises SymbolError: for an unknown format.
    """
    try:
        writer = WRITERS[fmt]
    except KeyError:
        raise SymbolError(
            f"unknown symbol format {fmt!r}; known: {', '.join(sorted(WRITERS))}"
        ) from None
    return writer(symbol, options or RenderOptions())
