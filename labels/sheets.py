"""A4 sheets of 50 x 30 mm labels as one streaming PDF.

Labels arrive as an iterable (a generator for a whole print run) and pages
leave as soon as they fill, through :class:`labels.pdf.PdfStream`: memory
stays flat however long the run.  Per label, the static part (product,
producer, lot, dates, EAN-13: the same for a batch) is a Form XObject drawn
with one ``Do``; the dynamic part is the QR, drawn as vectors through the
Type 3 "module font" of :func:`labels.pdf.matrix_op` (one glyph per 8
modules of a row, ~1 KB per QR), plus the ASCII serial.  With ``workers > 1``
the QR encoding and drawing run in worker processes (limits: 100,000 labels
within 120 s on 2 cores).
"""

from __future__ import annotations

import multiprocessing
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from labels.fonts import find_cjk_font
from labels.pdf import PdfStream, ascii_text_op, matrix_op
from labels.templates import (
    LABEL_H_MM,
    LABEL_W_MM,
    LabelContent,
    Modules,
    Text,
    layout_label,
    static_layout,
)

__all__ = ["A4_50x30", "SheetSpec", "write_pdf"]

_K = 72 / 25.4  # pt per mm
_RUN = re.compile("1+")


@dataclass(frozen=True)
class SheetSpec:
    """Page size and the grid of labels on it, in mm (origin top-left)."""

    page_w: float = 210.0
    page_h: float = 297.0
    cols: int = 4
    rows: int = 9
    left: float = 5.0
    top: float = 13.5

    def origin(self, index: int) -> tuple[float, float]:
        """Return the bottom-left corner (pt) of label ``index`` on its page, row by row."""
        r, c = divmod(index, self.cols)
        return (self.left + c * LABEL_W_MM) * _K, (
            self.page_h - self.top - (r + 1) * LABEL_H_MM
        ) * _K


A4_50x30 = SheetSpec()


def _modules_op(it: Modules) -> bytes:
    if it.bar_height is None:  # 2D: rows as strings of the Type 3 module font
        return matrix_op(it.rows, it.module * _K, it.x * _K, (LABEL_H_MM - it.y) * _K)
    # bars: module (col, row) -> label-local pt, y down; one 're' per run of dark modules
    sy = it.bar_height
    x, y = it.x * _K, (LABEL_H_MM - it.y) * _K
    head = f"q {it.module * _K:.4f} 0 0 {-sy * _K:.4f} {x:.3f} {y:.3f} cm\n"
    ops = [
        f"{m.start()} {y} {m.end() - m.start()} 1 re"
        for y, row in enumerate(it.rows)
        for m in _RUN.finditer(row)
    ]
    return (head + "\n".join(ops) + "\nf Q\n").encode("ascii")


def _dynamic(content: LabelContent, dpi: int, cid_fallback: bool) -> tuple[LabelContent, bytes]:
    layout = layout_label(content, dpi=dpi)
    parts = []
    for it in layout.dynamic:
        if isinstance(it, Text):
            parts.append(
                ascii_text_op(
                    it.text,
                    it.size * _K,
                    it.x * _K,
                    (LABEL_H_MM - it.y) * _K,
                    cid_fallback=cid_fallback,
                )
            )
        else:
            parts.append(_modules_op(it))
    return layout.static_key, b"".join(parts)


def _dynamic_star(args: tuple[LabelContent, int, bool]) -> tuple[LabelContent, bytes]:
    return _dynamic(*args)


def _static_form(pdf: PdfStream, key: LabelContent, dpi: int) -> str:
    parts = []
    for it in static_layout(key, dpi):
        if isinstance(it, Text):
            parts.append(pdf.text_op(it.text, it.size * _K, it.x * _K, (LABEL_H_MM - it.y) * _K))
        else:
            parts.append(_modules_op(it))
    return pdf.add_form(b"".join(parts), LABEL_W_MM * _K, LABEL_H_MM * _K)


def _rendered(
    labels: Iterable[LabelContent], dpi: int, cid: bool, workers: int
) -> Iterator[tuple[LabelContent, bytes]]:
    if workers <= 1:
        for c in labels:
            yield _dynamic(c, dpi, cid)
        return
    ctx = multiprocessing.get_context(
        "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    )
    with ctx.Pool(workers) as pool:
        yield from pool.imap(_dynamic_star, ((c, dpi, cid) for c in labels), chunksize=64)


def write_pdf(
    labels: Iterable[LabelContent],
    out: BinaryIO,
    *,
    spec: SheetSpec = A4_50x30,
    font_path: str | None = None,
    dpi: int = 300,
    workers: int = 1,
    outline: bool = False,
) -> int:
    """Write ``labels`` as a PDF of label sheets to ``out`` and return the number of labels.

    ``dpi`` is the printer resolution the module sizes are rounded to;
    ``outline`` draws a hairline around each label (for plain paper).
    Without the CJK font a :class:`labels.fonts.FontFallbackWarning` is issued.

    :raises LabelError: (a subclass) for a label whose data cannot be laid out.
    """
    pdf = PdfStream(out, find_cjk_font(font_path))
    forms: dict[LabelContent, str] = {}
    per_page = spec.cols * spec.rows
    page: list[bytes] = []
    count = 0
    for key, dynamic in _rendered(labels, dpi, pdf.cid_fallback, workers):
        form = forms.get(key)
        if form is None:
            form = forms[key] = _static_form(pdf, key, dpi)
        x, y = spec.origin(len(page))
        box = (
            b"0.2 w 0.6 G 0 0 %.3f %.3f re S " % (LABEL_W_MM * _K, LABEL_H_MM * _K)
            if outline
            else b""
        )
        page.append(b"q 1 0 0 1 %.3f %.3f cm %s/%s Do\n%sQ\n" % (x, y, box, form.encode(), dynamic))
        count += 1
        if len(page) == per_page:
            pdf.add_page(b"".join(page), spec.page_w * _K, spec.page_h * _K)
            page = []
    if page or count == 0:
        pdf.add_page(b"".join(page), spec.page_w * _K, spec.page_h * _K)
    pdf.close()
    return count
