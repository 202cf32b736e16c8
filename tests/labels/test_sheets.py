"""labels.sheets + labels.pdf: a streaming, structurally valid PDF whose labels decode."""

from __future__ import annotations

import datetime as dt
import io
import re
import shutil
import subprocess
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from labels.digital_link import parse_digital_link
from labels.fonts import FontFallbackWarning
from labels.keys import LabelKeyring
from labels.runs import write_run
from labels.sheets import A4_50x30, write_pdf
from labels.signing import verify_label
from labels.templates import LabelContent


def _labels(make_content: Callable[..., LabelContent], n: int) -> list[LabelContent]:
    return [make_content(serial=f"SN{i:010d}") for i in range(n)]


def _check_structure(pdf: bytes) -> int:
    """Check header, xref offsets and trailer; return the page count."""
    assert pdf.startswith(b"%PDF-1.7\n") and pdf.endswith(b"%%EOF\n")
    tail = re.search(rb"startxref\n(\d+)\n%%EOF\n$", pdf)
    assert tail
    startxref = int(tail.group(1))
    assert pdf[startxref:].startswith(b"xref\n0 ")
    n = int(re.match(rb"xref\n0 (\d+)\n", pdf[startxref:]).group(1))  # type: ignore[union-attr]
    offsets = re.findall(rb"(\d{10}) 00000 n \n", pdf[startxref:])
    assert len(offsets) == n - 1
    for num, off in enumerate(offsets, 1):
        assert pdf[int(off) :].startswith(b"%d 0 obj\n" % num), num
    for m in re.finditer(
        rb"/Length (\d+)(?: /Length1 \d+)? >>\nstream\n", pdf
    ):  # every stream inflates
        zlib.decompress(pdf[m.end() : m.end() + int(m.group(1))])
    pages = len(re.findall(rb"/Type /Page /Parent", pdf))
    assert re.search(rb"/Type /Pages /Count %d " % pages, pdf)
    return pages


def test_pdf_structure_and_page_count(make_content: Callable[..., LabelContent]) -> None:
    buf = io.BytesIO()
    assert write_pdf(_labels(make_content, 40), buf) == 40
    pdf = buf.getvalue()
    assert _check_structure(pdf) == 2  # 36 labels per A4 page
    assert pdf.count(b"/Subtype /Form") == 1  # one batch -> one static form
    assert b"/FontFile2" in pdf and b"/ToUnicode" in pdf and b"WenQuanYiMicroHei" in pdf


def test_empty_run_is_one_blank_page() -> None:
    buf = io.BytesIO()
    assert write_pdf(iter(()), buf) == 0
    assert _check_structure(buf.getvalue()) == 1


def test_pages_stream_out_while_labels_are_generated(
    make_content: Callable[..., LabelContent],
) -> None:
    out = io.BytesIO()
    sizes: list[int] = []

    def gen() -> Iterator[LabelContent]:
        for i in range(80):
            sizes.append(out.tell())
            yield make_content(serial=f"S{i}")

    write_pdf(gen(), out)
    assert (
        sizes[1] == sizes[35] < sizes[36] == sizes[71] < sizes[72]
    )  # each page is out as soon as it fills


def test_parallel_workers_write_identical_bytes(make_content: Callable[..., LabelContent]) -> None:
    labels = _labels(make_content, 40)
    one, two = io.BytesIO(), io.BytesIO()
    write_pdf(labels, one)
    write_pdf(iter(labels), two, workers=2)
    assert one.getvalue() == two.getvalue()


def test_missing_cjk_font_falls_back_with_warning(
    make_content: Callable[..., LabelContent],
) -> None:
    buf = io.BytesIO()
    with pytest.warns(FontFallbackWarning, match="fonts-wqy-microhei"):
        write_pdf(_labels(make_content, 2), buf, font_path="/nonexistent/font.ttc")
    pdf = buf.getvalue()
    assert _check_structure(pdf) == 1
    assert b"/STSong-Light" in pdf and b"/FontFile2" not in pdf


def test_run_writer_dict(make_content: Callable[..., LabelContent]) -> None:
    buf = io.BytesIO()
    assert write_run(_labels(make_content, 3), buf, "pdf") == 3
    assert buf.getvalue().startswith(b"%PDF")


def test_sheet_grid_fits_a4() -> None:
    x, y = A4_50x30.origin(35)
    assert x + 50 * 72 / 25.4 <= 595.3 and y >= 0


@pytest.mark.skipif(
    shutil.which("pdftoppm") is None, reason="pdftoppm (poppler-utils) not installed"
)
def test_rasterised_pdf_labels_decode_and_verify(
    make_content: Callable[..., LabelContent],
    keyring: LabelKeyring,
    now: dt.datetime,
    tmp_path: Path,
) -> None:
    labels = _labels(make_content, 8)
    (tmp_path / "run.pdf").write_bytes(b"")
    with open(tmp_path / "run.pdf", "wb") as f:
        write_pdf(labels, f)
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            "300",
            "-gray",
            "-png",
            "-f",
            "1",
            "-l",
            "1",
            str(tmp_path / "run.pdf"),
            str(tmp_path / "p"),
        ],
        check=True,
    )
    page = Image.open(next(tmp_path.glob("p*.png")))
    found = {
        r.text
        for r in zxingcpp.read_barcodes(
            page, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
        )
    }
    assert found == {c.uri for c in labels}
    for uri in found:
        assert verify_label(parse_digital_link(uri), keyring, now).lot == "LOT2026A01"
    eans = {
        r.text
        for r in zxingcpp.read_barcodes(
            page, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.EAN13)
        )
    }
    assert eans == {"6901234567892"}


@pytest.mark.skipif(
    shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) not installed"
)
def test_cjk_text_is_extractable(make_content: Callable[..., LabelContent], tmp_path: Path) -> None:
    with open(tmp_path / "run.pdf", "wb") as f:
        write_pdf(_labels(make_content, 1), f)
    text = subprocess.run(
        ["pdftotext", str(tmp_path / "run.pdf"), "-"], check=True, capture_output=True
    ).stdout.decode()
    for s in (
        "有机纯牛奶",
        "批号",
        "LOT2026A01",
        "SN0000000000",
        "有效期至",
        "内蒙古示例乳业有限公司",
    ):
        assert s in text


def test_matrix_op_rows_and_module_font_glyphs_draw_exact_modules(content: LabelContent) -> None:
    """Without a rasteriser: decode the content stream and the Type 3 glyphs back into modules."""
    from labels.pdf import matrix_op
    from labels.symbols import qr

    sym = qr(content.uri)
    op = matrix_op(sym.rows, 1.0, 0, 100).decode()
    hexrows = re.findall(r"<([0-9a-f]*)>", op)
    assert len(hexrows) == sym.height
    assert op.count("0 -1 Td") == sym.height - 1
    buf = io.BytesIO()
    write_pdf([content], buf)
    pdf = buf.getvalue()
    glyphs: dict[int, str] = {}
    for m in re.finditer(rb"/g(\d+) (\d+) 0 R", pdf):
        obj = re.search(
            rb"\n%s 0 obj\n<<  /Filter /FlateDecode /Length (\d+) >>\nstream\n" % m.group(2), pdf
        )
        assert obj, m.group(1)
        proc = zlib.decompress(pdf[obj.end() : obj.end() + int(obj.group(1))]).decode()
        assert proc.startswith("8 0 0 0 8 1 d1")
        bits = ["0"] * 8
        for x, w in re.findall(r"(\d+) 0 (\d+) 1 re", proc):
            bits[int(x) : int(x) + int(w)] = ["1"] * int(w)
        glyphs[int(m.group(1))] = "".join(bits)
    assert len(glyphs) == 256 and all(glyphs[b] == f"{b:08b}" for b in range(256))
    drawn = ["".join(glyphs[b] for b in bytes.fromhex(h))[: sym.width] for h in hexrows]
    assert tuple(drawn) == sym.rows
