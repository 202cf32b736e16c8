"""Shared fixtures and helpers for the labels tests."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Callable

import pytest
import zxingcpp
from PIL import Image, ImageDraw, ImageFilter

from labels.keys import KeyStatus, LabelKeyring, LabelSigningKey
from labels.signing import sign_label
from labels.templates import LabelContent

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
BASE = "https://t.example.cn"
LONG_BASE = "https://trace.verify-example.cn"  # 25-character host, the QR size budget


@pytest.fixture
def key() -> LabelSigningKey:
    """A deterministic label key (RFC 8032 seed 00..1f)."""
    return LabelSigningKey.from_seed(bytes(range(32)))


@pytest.fixture
def keyring(key: LabelSigningKey) -> LabelKeyring:
    """A keyring trusting ``key`` from 2026-01-01."""
    return LabelKeyring(
        [key.record("示例乳业", dt.datetime(2026, 1, 1, tzinfo=dt.UTC), status=KeyStatus.ACTIVE)]
    )


def _make_content(
    key: LabelSigningKey, serial: str = "SN0000012345", base: str = BASE
) -> LabelContent:
    s = sign_label(
        "6901234567892",
        "LOT2026A01",
        serial,
        key,
        production=dt.date(2026, 1, 2),
        expiry=dt.date(2027, 6, 30),
    )
    return LabelContent(
        s.uri(base),
        s.gtin,
        s.lot,
        s.serial,
        "有机纯牛奶 250mL×12盒",
        "内蒙古示例乳业有限公司",
        dt.date(2026, 1, 2),
        dt.date(2027, 6, 30),
    )


@pytest.fixture
def content(key: LabelSigningKey) -> LabelContent:
    """One signed label's content."""
    return _make_content(key)


@pytest.fixture
def make_content(key: LabelSigningKey) -> Callable[..., LabelContent]:
    """Factory: ``make_content(serial=..., base=...)`` returns a signed label content."""
    return lambda serial="SN0000012345", base=BASE: _make_content(key, serial, base)


@pytest.fixture
def now() -> dt.datetime:
    """The verification time used throughout: 2026-03-01T12:00Z."""
    return NOW


def _decode(
    img: Image.Image,
    formats: zxingcpp.BarcodeFormat | tuple[zxingcpp.BarcodeFormat, ...] | None = None,
) -> list[zxingcpp.Result]:
    """Decode every barcode in ``img`` with zxing-cpp, optionally only ``formats``."""
    if formats is None:
        return list(zxingcpp.read_barcodes(img))
    return list(zxingcpp.read_barcodes(img, formats=zxingcpp.BarcodeFormats(formats)))


def _phone_view(
    img: Image.Image, px_per_module: float, module_px: int, blur: float = 1.0, jpeg: int = 80
) -> Image.Image:
    """Simulate a phone camera: scale so a module covers ``px_per_module`` pixels, blur, JPEG."""
    f = px_per_module / module_px
    small = img.convert("L").resize(
        (max(1, round(img.width * f)), max(1, round(img.height * f))), Image.Resampling.BILINEAR
    )
    small = small.filter(ImageFilter.GaussianBlur(blur))
    canvas = Image.new(
        "L", (small.width + 80, small.height + 80), 255
    )  # a little background around it
    canvas.paste(small, (40, 40))
    buf = io.BytesIO()
    canvas.save(buf, "JPEG", quality=jpeg)
    return Image.open(io.BytesIO(buf.getvalue()))


@pytest.fixture
def decode() -> Callable[..., list[zxingcpp.Result]]:
    """zxing-cpp decoder: ``decode(img, formats=None)``."""
    return _decode


@pytest.fixture
def phone_view() -> Callable[..., Image.Image]:
    """Phone-camera simulation: ``phone_view(img, px_per_module, module_px, blur=1.0, jpeg=80)``."""
    return _phone_view


def _svg_raster(svg: bytes, px_per_unit: float) -> Image.Image:
    """Rasterise our own SVG output.

    Module runs are ``M x y h w v u h -w z`` paths, optionally under
    ``translate(0 ty) scale(1 sy)``; text is ignored."""
    text = svg.decode()
    m = re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', text)
    assert m
    w, h = float(m.group(1)), float(m.group(2))
    img = Image.new("L", (round(w * px_per_unit), round(h * px_per_unit)), 255)
    draw = ImageDraw.Draw(img)
    k = px_per_unit
    for path in re.finditer(
        r'<path (?:transform="(?:translate\(0 ([\d.]+)\) )?scale\(1 ([\d.]+)\)" )?d="([^"]*)"', text
    ):
        ty, sy = float(path.group(1) or 0), float(path.group(2) or 1)
        for x, y, dx, dy in re.findall(r"M([\d.]+) ([\d.]+)h([\d.]+)v([\d.]+)h", path.group(3)):
            x0, y0 = float(x) * k, (ty + float(y) * sy) * k
            draw.rectangle(
                [
                    round(x0),
                    round(y0),
                    round(x0 + float(dx) * k) - 1,
                    round(y0 + float(dy) * sy * k) - 1,
                ],
                fill=0,
            )
    return img


@pytest.fixture
def svg_raster() -> Callable[..., Image.Image]:
    """Rasteriser for our SVG output: ``svg_raster(svg_bytes, px_per_unit)``."""
    return _svg_raster
