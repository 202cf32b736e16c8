"""labels.zpl: stored formats per batch, one recall per label, printer-drawn symbols."""

from __future__ import annotations

import io
import re
from collections.abc import Callable

import pytest

from labels.errors import SymbolError
from labels.runs import write_run
from labels.templates import LabelContent
from labels.zpl import format_zpl, label_zpl, write_zpl


def test_one_format_per_batch_and_one_recall_per_label(
    make_content: Callable[..., LabelContent],
) -> None:
    labels = [make_content(serial=f"SN{i:04d}") for i in range(5)]
    buf = io.BytesIO()
    assert write_zpl(labels, buf) == 5
    zpl = buf.getvalue().decode("utf-8")
    assert zpl.count("^XA") == zpl.count("^XZ") == 6
    assert zpl.count("^DFR:TL0000.ZPL") == 1 and zpl.count("^XFR:TL0000.ZPL") == 5
    for c in labels:
        assert f"^FN1^FDMA,{c.uri}^FS^FN2^FH_^FD{c.serial}^FS" in zpl


def test_format_uses_utf8_printer_font_qr_and_ean(content: LabelContent) -> None:
    fmt = format_zpl("TL0007", content, font="E:SIMSUN.TTF")
    assert fmt.startswith("^XA^DFR:TL0007.ZPL^FS^CI28^PW591^LL354")
    assert "^CWJ,E:SIMSUN.TTF" in fmt
    assert re.search(r"\^BQN,2,[2-9]\^FN1\^FS", fmt)
    assert "^BEN,71,Y,N^FD690123456789^FS" in fmt  # 12 digits: the printer adds the check digit
    for s in (
        "有机纯牛奶 250mL×12盒",
        "批号 LOT2026A01",
        "生产日期 2026-01-02",
        "有效期至 2027-06-30",
        "序列号",
    ):
        assert f"^FH_^FD{s}^FS" in fmt
    assert "6901234567892" not in fmt  # the printer prints the HRT itself


def test_text_field_escapes_zpl_control_characters(content: LabelContent) -> None:
    c = LabelContent(
        content.uri, content.gtin, content.lot, content.serial, "A^B~C_D", content.producer
    )
    assert "^FD A_5EB_7EC_5FD^FS".replace(" ", "") in format_zpl("X", c)


def test_upca_uses_bu_with_11_digits(content: LabelContent) -> None:
    c = LabelContent(content.uri, "614141123452", "L", "S", "n", "p", barcode="upca")
    assert "^BUN,71,Y,N^FD61414112345^FS" in format_zpl("X", c)


def test_qr_data_with_caret_is_refused() -> None:
    with pytest.raises(SymbolError, match="'\\^' or '~'"):
        label_zpl("X", "https://a/01/09520123456788^", "S")


def test_run_writer_dict(content: LabelContent) -> None:
    buf = io.BytesIO()
    assert write_run([content], buf, "zpl") == 1
    with pytest.raises(Exception, match="known: pdf, zpl"):
        write_run([content], buf, "eps")
