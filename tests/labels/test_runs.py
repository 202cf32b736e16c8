"""labels.runs: the print-run writers by format, the ZIP writers and progress reporting."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Callable, Iterator

import pytest
import zxingcpp
from PIL import Image

from labels.digital_link import parse_digital_link
from labels.errors import LabelError
from labels.keys import LabelKeyring
from labels.runs import RUN_WRITERS, label_file_name, write_run
from labels.signing import verify_label
from labels.templates import LabelContent


class _Unseekable(io.RawIOBase):
    """A write-only stream without tell/seek, like a pipe or an HTTP response body."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b: bytes) -> int:  # type: ignore[override]
        self.data += b
        return len(b)


def _labels(make_content: Callable[..., LabelContent], n: int) -> Iterator[LabelContent]:
    return (make_content(serial=f"SN{i:010d}") for i in range(n))  # a generator, read once


def test_run_writers_cover_every_print_format() -> None:
    assert sorted(RUN_WRITERS) == ["pdf", "png-zip", "svg-zip", "zpl"]


def test_png_zip_has_one_stored_png_per_label_that_decodes_to_the_signed_uri(
    make_content: Callable[..., LabelContent], keyring: LabelKeyring, now: dt.datetime
) -> None:
    buf = io.BytesIO()
    assert write_run(_labels(make_content, 5), buf, "png-zip") == 5
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as zf:
        assert zf.testzip() is None
        infos = zf.infolist()
        assert [i.filename for i in infos] == [
            f"06901234567892_LOT2026A01_SN{i:010d}.png" for i in range(5)
        ]
        assert {i.compress_type for i in infos} == {zipfile.ZIP_STORED}
        img = Image.open(io.BytesIO(zf.read(infos[3])))
        img.load()
    assert img.size == (591, 354)  # 50 x 30 mm at 300 dpi
    results = zxingcpp.read_barcodes(img, formats=zxingcpp.BarcodeFormat.QRCode)
    expected = make_content(serial="SN0000000003").uri
    assert [r.text for r in results] == [expected]
    verified = verify_label(parse_digital_link(results[0].text), keyring, now)
    assert verified.serial == "SN0000000003"


def test_svg_zip_has_one_deflated_svg_per_label(
    make_content: Callable[..., LabelContent],
) -> None:
    buf = io.BytesIO()
    assert write_run(_labels(make_content, 7), buf, "svg-zip") == 7
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as zf:
        assert zf.testzip() is None
        infos = zf.infolist()
        assert len(infos) == 7
        assert all(i.filename.endswith(".svg") for i in infos)
        assert {i.compress_type for i in infos} == {zipfile.ZIP_DEFLATED}
        assert all(i.compress_size < i.file_size for i in infos)
        svg = zf.read(infos[0]).decode()
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg" width="50mm" height="30mm"')


def test_zip_streams_to_an_unseekable_output(make_content: Callable[..., LabelContent]) -> None:
    out = _Unseekable()
    assert write_run(_labels(make_content, 3), out, "svg-zip") == 3  # type: ignore[arg-type]
    with zipfile.ZipFile(io.BytesIO(bytes(out.data))) as zf:
        assert zf.testzip() is None and len(zf.namelist()) == 3


def test_zip_is_deterministic_and_workers_give_the_same_bytes(
    make_content: Callable[..., LabelContent],
) -> None:
    one, two, again = io.BytesIO(), io.BytesIO(), io.BytesIO()
    write_run(_labels(make_content, 40), one, "png-zip")
    write_run(_labels(make_content, 40), two, "png-zip", workers=2)
    write_run(_labels(make_content, 40), again, "png-zip")
    assert one.getvalue() == two.getvalue() == again.getvalue()


def test_member_names_encode_characters_that_could_escape_or_break_a_path(
    make_content: Callable[..., LabelContent],
) -> None:
    # GS1 CSET 82 allows "/", ".", ":", "*", "?", '"', "<", ">" in lots and serials.
    content = make_content(serial="../a/b:c*?_x")
    name = label_file_name(content, "png")
    assert name == "06901234567892_LOT2026A01_..%2Fa%2Fb%3Ac%2A%3F%5Fx.png"
    buf = io.BytesIO()
    write_run([content], buf, "png-zip")
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as zf:
        assert "/" not in zf.namelist()[0]


def test_the_same_label_twice_in_a_zip_run_is_refused(
    make_content: Callable[..., LabelContent],
) -> None:
    same = make_content(serial="SN1")
    with pytest.raises(LabelError) as err:
        write_run([same, make_content(serial="SN2"), same], io.BytesIO(), "svg-zip")
    assert err.value.code == "labels.duplicate_label"
    assert "06901234567892_LOT2026A01_SN1.svg" in str(err.value)


@pytest.mark.parametrize("fmt", ["pdf", "zpl", "png-zip", "svg-zip"])
def test_progress_is_reported_every_n_labels_and_at_the_end(
    make_content: Callable[..., LabelContent], fmt: str
) -> None:
    calls: list[int] = []
    count = write_run(
        _labels(make_content, 25), io.BytesIO(), fmt, progress=calls.append, progress_every=10
    )
    assert count == 25
    assert calls == [10, 20, 25]


def test_progress_of_an_exact_multiple_ends_on_the_total_once(
    make_content: Callable[..., LabelContent],
) -> None:
    calls: list[int] = []
    write_run(_labels(make_content, 20), io.BytesIO(), "zpl", progress=calls.append,
              progress_every=10)
    assert calls == [10, 20]


def test_progress_with_pdf_workers_reaches_the_total(
    make_content: Callable[..., LabelContent],
) -> None:
    calls: list[int] = []
    count = write_run(_labels(make_content, 50), io.BytesIO(), "pdf", workers=2,
                      progress=calls.append, progress_every=20)
    assert count == 50 and calls == [20, 40, 50]


def test_progress_every_below_one_is_refused(content: LabelContent) -> None:
    with pytest.raises(LabelError, match="progress_every must be at least 1, got 0"):
        write_run([content], io.BytesIO(), "zpl", progress=print, progress_every=0)


def test_unknown_format_names_the_known_ones(content: LabelContent) -> None:
    with pytest.raises(LabelError, match="'png'; known: pdf, zpl, png-zip, svg-zip"):
        write_run([content], io.BytesIO(), "png")
