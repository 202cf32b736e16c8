"""A small streaming PDF 1.7 writer for label sheets (ISO 32000-1).

Pages are written to the output file as soon as they are complete, so a
100,000-label run never sits in memory: only object offsets and page numbers
are kept until :meth:`PdfStream.close` writes fonts, the page tree and the
cross-reference table (§7.5.4).

Text uses the TrueType CJK font, subset on close by reportlab's TrueType
parser (``reportlab.pdfbase.ttfonts.TTFontFile.makeSubset``) into simple
TrueType fonts of 256 codes each (§9.6.3), each with a ToUnicode CMap
(§9.10.3) so text stays searchable.  Codes 32-126 of subset 0 are ASCII
itself, so ASCII text can be encoded anywhere (even in a worker process)
without shared state.  Without the font file, the writer falls back to the
non-embedded Adobe-GB1 CID font STSong-Light with the predefined
UniGB-UCS2-H CMap (§9.7.5.2), which PDF viewers substitute.

Module matrices (QR) are drawn with a Type 3 font (§9.6.5) whose 256 glyphs
are the 256 patterns of 8 modules, each a vector procedure of filled
rectangles: a QR row is one short string, so a page of 36 QRs is built with
no per-module Python loop and still prints exact rectangles.  Its glyphs map
to U+200B in ToUnicode so text extraction does not turn QRs into junk.

All pages share one resource dictionary, written last.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable
from typing import BinaryIO

from reportlab.pdfbase.ttfonts import TTFontFile

__all__ = ["PdfStream", "TextEncoder", "ascii_text_op", "matrix_op"]

_MODULE_FONT = "Q"  # Type 3 font: glyph b draws byte b of a matrix row, MSB = leftmost module


def matrix_op(rows: tuple[str, ...], module_pt: float, x_pt: float, top_pt: float) -> bytes:
    """Return operators drawing a module matrix (``"1"`` = dark), top-left corner at (x, top) pt.

    Each row is shown as a string of the Type 3 "module font" (§9.6.5): one
    glyph per 8 modules, each glyph a vector procedure filling its dark runs.
    A version-9 QR is ~1 KB of content produced without a per-module Python
    loop, and still draws exact rectangles at any resolution.
    """
    nbytes = (len(rows[0]) + 7) // 8
    width = nbytes * 8
    hexrows = [int(r.ljust(width, "0"), 2).to_bytes(nbytes, "big").hex() for r in rows]
    body = "> Tj 0 -1 Td <".join(hexrows)
    m = f"{module_pt:.4f}"
    head = f"BT /{_MODULE_FONT} 1 Tf {m} 0 0 {m} {x_pt:.3f} {top_pt - module_pt:.3f} Tm <"
    return (head + body + "> Tj ET\n").encode("ascii")


class TextEncoder:
    """Map text to (font resource name, code bytes), assigning subset codes as characters appear."""

    def __init__(self, font_path: str | None) -> None:
        self.ttf = TTFontFile(font_path, subfontIndex=0) if font_path else None
        # subset 0: code c for ASCII c (32-126); code 0 is .notdef
        self.subsets: list[list[int]] = [[0] * 32 + list(range(32, 127))]
        self._codes: dict[int, tuple[int, int]] = {c: (0, c) for c in range(32, 127)}

    def _code(self, cp: int) -> tuple[int, int]:
        got = self._codes.get(cp)
        if got is None:
            assert self.ttf is not None
            if cp not in self.ttf.charToGlyph:
                return (0, 0)  # .notdef: the font has no glyph
            last = self.subsets[-1]
            if len(last) >= 256:
                last = [0]
                self.subsets.append(last)
            got = (len(self.subsets) - 1, len(last))
            last.append(cp)
            self._codes[cp] = got
        return got

    def encode(self, text: str) -> list[tuple[str, bytes]]:
        """Split ``text`` into runs of ``(font resource name, string bytes)``."""
        if self.ttf is None:
            return [("FC", text.encode("utf-16-be", "replace"))]
        runs: list[tuple[str, bytes]] = []
        cur, buf = -1, bytearray()
        for ch in text:
            sub, code = self._code(ord(ch))
            if sub != cur and buf:
                runs.append((f"F{cur}", bytes(buf)))
                buf = bytearray()
            cur = sub
            buf.append(code)
        if buf:
            runs.append((f"F{cur}", bytes(buf)))
        return runs


def _text_op(runs: Iterable[tuple[str, bytes]], size_pt: float, x_pt: float, y_pt: float) -> bytes:
    parts = [b"BT 1 0 0 1 %.2f %.2f Tm" % (x_pt, y_pt)]
    for name, data in runs:
        parts.append(b"/%s %.2f Tf <%s> Tj" % (name.encode(), size_pt, data.hex().encode()))
    parts.append(b"ET\n")
    return b" ".join(parts)


def ascii_text_op(
    text: str, size_pt: float, x_pt: float, y_pt: float, *, cid_fallback: bool
) -> bytes:
    """Return the operators drawing ASCII ``text`` with no encoder state (see module doc)."""
    if cid_fallback:
        return _text_op([("FC", text.encode("utf-16-be"))], size_pt, x_pt, y_pt)
    return _text_op([("F0", text.encode("ascii"))], size_pt, x_pt, y_pt)


class PdfStream:
    """Write a PDF incrementally: forms and pages go out as they are added."""

    def __init__(self, out: BinaryIO, font_path: str | None, *, compress: int = 6) -> None:
        self.out = out
        self.text = TextEncoder(font_path)
        self.compress = compress
        self._offsets: dict[int, int] = {}
        self._next = 4  # 1 catalog, 2 page tree, 3 shared resources
        self._pages: list[int] = []
        self._forms: list[tuple[str, int]] = []
        self._pos = 0
        self._write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")

    @property
    def cid_fallback(self) -> bool:
        """True when text uses the non-embedded STSong-Light fallback."""
        return self.text.ttf is None

    def _write(self, data: bytes) -> None:
        self.out.write(data)
        self._pos += len(data)

    def _reserve(self) -> int:
        self._next += 1
        return self._next - 1

    def _obj(self, num: int, body: bytes) -> None:
        self._offsets[num] = self._pos
        self._write(b"%d 0 obj\n%s\nendobj\n" % (num, body))

    def _stream(self, num: int, dict_body: bytes, data: bytes, *, raw_length: bool = False) -> None:
        z = zlib.compress(data, self.compress)
        extra = b" /Length1 %d" % len(data) if raw_length else b""
        self._obj(
            num,
            b"<< %s /Filter /FlateDecode /Length %d%s >>\nstream\n%s\nendstream"
            % (dict_body, len(z), extra, z),
        )

    def text_op(self, text: str, size_pt: float, x_pt: float, y_pt: float) -> bytes:
        """Return content operators drawing ``text`` (any script) at (x, y) pt, baseline."""
        return _text_op(self.text.encode(text), size_pt, x_pt, y_pt)

    def add_form(self, content: bytes, width_pt: float, height_pt: float) -> str:
        """Write a Form XObject (§8.10) and return its resource name for ``/Name Do``."""
        num = self._reserve()
        name = f"X{len(self._forms)}"
        self._stream(
            num,
            b"/Type /XObject /Subtype /Form /BBox [0 0 %.3f %.3f] /Resources 3 0 R"
            % (width_pt, height_pt),
            content,
        )
        self._forms.append((name, num))
        return name

    def add_page(self, content: bytes, width_pt: float, height_pt: float) -> None:
        """Write one page with ``content`` as its content stream."""
        c, p = self._reserve(), self._reserve()
        self._stream(c, b"", content)
        self._obj(
            p,
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.3f %.3f]"
            b" /Resources 3 0 R /Contents %d 0 R >>" % (width_pt, height_pt, c),
        )
        self._pages.append(p)

    def _fonts(self) -> list[tuple[str, int]]:
        if self.text.ttf is None:
            t0, cid, desc = self._reserve(), self._reserve(), self._reserve()
            self._obj(
                t0,
                b"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light-UniGB-UCS2-H"
                b" /Encoding /UniGB-UCS2-H /DescendantFonts [%d 0 R] >>" % cid,
            )
            self._obj(
                cid,
                b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light"
                b" /CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 2 >>"
                b" /FontDescriptor %d 0 R /DW 1000 /W [1 95 500] >>" % desc,
            )
            self._obj(
                desc,
                b"<< /Type /FontDescriptor /FontName /STSong-Light /Flags 6"
                b" /FontBBox [-25 -254 1000 880]"
                b" /ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 880 /StemV 93 >>",
            )
            return [("FC", t0)]
        ttf = self.text.ttf
        out = []
        for i, subset in enumerate(self.text.subsets):
            tag = "TL" + "".join(chr(65 + (i // 26**k) % 26) for k in (3, 2, 1, 0))
            base = b"%s+%s" % (tag.encode(), ttf.name)
            font, desc, file_, cmap = (self._reserve() for _ in range(4))
            widths = b" ".join(
                b"%d" % round(ttf.charWidths.get(cp, ttf.defaultWidth)) for cp in subset
            )
            self._obj(
                font,
                b"<< /Type /Font /Subtype /TrueType /BaseFont /%s"
                b" /FirstChar 0 /LastChar %d /Widths [%s]"
                b" /FontDescriptor %d 0 R /ToUnicode %d 0 R >>"
                % (base, len(subset) - 1, widths, desc, cmap),
            )
            bbox = b" ".join(b"%d" % round(v) for v in ttf.bbox)
            self._obj(
                desc,
                b"<< /Type /FontDescriptor /FontName /%s /Flags 4 /FontBBox [%s] /ItalicAngle 0"
                b" /Ascent %d /Descent %d /CapHeight %d /StemV %d /FontFile2 %d 0 R >>"
                % (
                    base,
                    bbox,
                    round(ttf.ascent),
                    round(ttf.descent),
                    round(ttf.capHeight),
                    round(ttf.stemV),
                    file_,
                ),
            )
            self._stream(file_, b"", ttf.makeSubset(subset), raw_length=True)
            self._stream(cmap, b"", _to_unicode(subset))
            out.append((f"F{i}", font))
        return out

    def _module_font(self) -> int:
        procs = []
        for b in range(256):
            runs = [(m.start(), m.end() - m.start()) for m in re.finditer("1+", f"{b:08b}")]
            ops = b" ".join(b"%d 0 %d 1 re" % (x0, w) for x0, w in runs)
            num = self._reserve()
            self._stream(num, b"", b"8 0 0 0 8 1 d1 " + ops + (b" f" if runs else b""))
            procs.append(b"/g%d %d 0 R" % (b, num))
        cmap = self._reserve()  # every glyph extracts as U+200B ZERO WIDTH SPACE, not as junk text
        self._stream(cmap, b"", _to_unicode([0x200B] * 256))
        font = self._reserve()
        names = b" ".join(b"/g%d" % b for b in range(256))
        self._obj(
            font,
            b"<< /Type /Font /Subtype /Type3 /FontBBox [0 0 8 1] /FontMatrix [1 0 0 1 0 0]"
            b" /CharProcs << %s >> /Encoding << /Type /Encoding /Differences [0 %s] >>"
            b" /FirstChar 0 /LastChar 255 /Widths [%s] /Resources << >> /ToUnicode %d 0 R >>"
            % (b" ".join(procs), names, b" ".join([b"8"] * 256), cmap),
        )
        return font

    def close(self) -> None:
        """Write fonts, resources, page tree, catalog, xref and trailer (completes the file)."""
        font_list = [*self._fonts(), (_MODULE_FONT, self._module_font())]
        fonts = b" ".join(b"/%s %d 0 R" % (n.encode(), num) for n, num in font_list)
        forms = b" ".join(b"/%s %d 0 R" % (n.encode(), num) for n, num in self._forms)
        self._obj(
            3, b"<< /ProcSet [/PDF /Text] /Font << %s >> /XObject << %s >> >>" % (fonts, forms)
        )
        kids = b" ".join(b"%d 0 R" % p for p in self._pages)
        self._obj(2, b"<< /Type /Pages /Count %d /Kids [%s] >>" % (len(self._pages), kids))
        self._obj(1, b"<< /Type /Catalog /Pages 2 0 R >>")
        xref = self._pos
        n = self._next
        lines = [b"xref\n0 %d\n0000000000 65535 f \n" % n]
        lines += [b"%010d 00000 n \n" % self._offsets[i] for i in range(1, n)]
        self._write(b"".join(lines))
        self._write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (n, xref))


def _to_unicode(subset: list[int]) -> bytes:
    # §9.10.3: CMap mapping each 1-byte code to its Unicode scalar (UTF-16BE); 0 = .notdef.
    entries = [
        b"<%02X> <%s>" % (code, chr(cp).encode("utf-16-be").hex().upper().encode())
        for code, cp in enumerate(subset)
        if cp
    ]
    chunks = [entries[i : i + 100] for i in range(0, len(entries), 100)]
    body = b"".join(b"%d beginbfchar\n%s\nendbfchar\n" % (len(c), b"\n".join(c)) for c in chunks)
    return (
        b"/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
        b"/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        b"/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
        b"1 begincodespacerange\n<00> <FF>\nendcodespacerange\n"
        + body
        + b"endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n"
    )
