"""labels.templates: the 50 x 30 mm label decodes, parses back and verifies."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable

import pytest
import zxingcpp
from PIL import Image

from labels.digital_link import parse_digital_link
from labels.errors import SymbolError
from labels.keys import LabelKeyring
from labels.signing import verify_label
from labels.templates import LabelContent, Modules, Text, layout_label, render_label

F = zxingcpp.BarcodeFormat


def _check_decoded(
    results: list[zxingcpp.Result], content: LabelContent, keyring: LabelKeyring, now: dt.datetime
) -> None:
    by_format = {r.format: r.text for r in results}
    assert by_format[F.QRCode] == content.uri
    assert by_format[F.EAN13] == content.gtin[1:]
    link = parse_digital_link(by_format[F.QRCode])
    assert (link.gtin, link.lot, link.serial) == (content.gtin, content.lot, content.serial)
    v = verify_label(link, keyring, now)
    assert (v.gtin, v.lot, v.serial, v.expiry, v.production) == (
        content.gtin,
        content.lot,
        content.serial,
        "270630",
        "260102",
    )


@pytest.mark.parametrize("dpi", [203, 300, 600])
def test_png_label_decodes_and_verifies(
    content: LabelContent,
    keyring: LabelKeyring,
    now: dt.datetime,
    dpi: int,
    decode: Callable[..., list[zxingcpp.Result]],
) -> None:
    img = Image.open(io.BytesIO(render_label(content, "png", dpi=dpi)))
    assert img.size == (round(50 * dpi / 25.4), round(30 * dpi / 25.4))
    _check_decoded(decode(img, (F.QRCode, F.EAN13)), content, keyring, now)


def test_png_label_decodes_at_phone_camera_size(
    content: LabelContent,
    keyring: LabelKeyring,
    now: dt.datetime,
    decode: Callable[..., list[zxingcpp.Result]],
    phone_view: Callable[..., Image.Image],
) -> None:
    img = Image.open(io.BytesIO(render_label(content, "png", dpi=300)))
    qr = layout_label(content).dynamic[0]
    assert isinstance(qr, Modules)
    seen = phone_view(img, px_per_module=2.5, module_px=round(qr.module * 300 / 25.4), blur=1.0)
    assert seen.width - 80 < 400  # the whole 50 mm label is under 400 camera pixels wide
    _check_decoded(decode(seen, (F.QRCode, F.EAN13)), content, keyring, now)


def test_svg_label_qr_and_barcode_decode(
    content: LabelContent,
    keyring: LabelKeyring,
    now: dt.datetime,
    decode: Callable[..., list[zxingcpp.Result]],
    svg_raster: Callable[..., Image.Image],
) -> None:
    svg = render_label(content, "svg")
    text = svg.decode()
    for s in (
        "有机纯牛奶",
        "批号 LOT2026A01",
        "SN0000012345",
        "生产日期 2026-01-02",
        "有效期至 2027-06-30",
        "内蒙古示例乳业有限公司",
    ):
        assert s in text
    _check_decoded(decode(svg_raster(svg, 14), (F.QRCode, F.EAN13)), content, keyring, now)


def test_layout_separates_static_batch_part_from_unique_part(
    content: LabelContent, make_content: Callable[..., LabelContent]
) -> None:
    a, b = layout_label(content), layout_label(make_content(serial="SN0000012346"))
    assert a.static_key == b.static_key and a.static is b.static  # cached per batch
    assert [type(i) for i in a.dynamic] == [Modules, Text]
    texts = [i.text for i in a.static if isinstance(i, Text)]
    assert "SN0000012345" not in " ".join(texts)


def test_every_item_lies_on_the_label(content: LabelContent) -> None:
    lay = layout_label(content)
    for it in (*lay.static, *lay.dynamic):
        if isinstance(it, Modules):
            w = len(it.rows[0]) * it.module
            h = it.bar_height if it.bar_height is not None else len(it.rows) * it.module
            assert it.x >= 0 and it.x + w <= 50 and it.y >= 0 and it.y + h <= 30
        else:
            assert 0 <= it.x < 50 and 0 < it.y <= 30


def test_long_product_name_is_shrunk_or_truncated(key: object, content: LabelContent) -> None:
    long = LabelContent(
        content.uri,
        content.gtin,
        content.lot,
        content.serial,
        "超长的产品名称" * 6,
        content.producer,
    )
    name = layout_label(long).static[1]
    assert isinstance(name, Text) and name.text.endswith("…") and name.size >= 2.2


def test_content_normalises_gtin_and_checks_barcode(content: LabelContent) -> None:
    assert LabelContent("u", "6901234567892", "L", "S", "n", "p").gtin == "06901234567892"
    with pytest.raises(SymbolError, match="ean13, upca or none"):
        LabelContent("u", "6901234567892", "L", "S", "n", "p", barcode="qr")
    with pytest.raises(SymbolError, match="unknown label format"):
        render_label(content, "bmp")
