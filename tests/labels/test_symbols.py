"""labels.symbols + labels.writers: every symbol decodes to exactly its payload."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
import zxingcpp
from PIL import Image

from labels import symbols
from labels.errors import CheckDigitError, SymbolError
from labels.writers import RenderOptions, module_px, render, symbol_image

URI = (
    "https://t.example.cn/01/06901234567892/10/LOT2026A01/21/SN0000012345?17=270630&k=VGSqWw&s="
    + "A" * 86
)
F = zxingcpp.BarcodeFormat

CASES: list[tuple[str, Callable[[], symbols.Symbol], zxingcpp.BarcodeFormat, bytes]] = [
    ("qr", lambda: symbols.qr(URI), F.QRCode, URI.encode()),
    ("ean13", lambda: symbols.ean13("06901234567892"), F.EAN13, b"6901234567892"),
    # zxing reports UPC-A as its EAN-13 form (GTIN-12 with a leading 0)
    ("upca", lambda: symbols.upca("614141123452"), F.UPCA, b"0614141123452"),
    (
        "gs1_128",
        lambda: symbols.gs1_128([("00", "376104250021234569")]),
        F.Code128,
        b"00376104250021234569",
    ),
    ("code128", lambda: symbols.code128("INT-0001/x"), F.Code128, b"INT-0001/x"),
    (
        "gs1_datamatrix",
        lambda: symbols.gs1_datamatrix(
            [("01", "09520123456788"), ("17", "270630"), ("10", "ABC1"), ("21", "12345")]
        ),
        F.DataMatrix,
        b"01095201234567881727063010ABC1\x1d2112345",
    ),
]


@pytest.mark.parametrize(("kind", "make", "fmt", "payload"), CASES, ids=[c[0] for c in CASES])
def test_png_decodes_to_exact_payload(
    kind: str,
    make: Callable[[], symbols.Symbol],
    fmt: zxingcpp.BarcodeFormat,
    payload: bytes,
    decode: Callable[..., list[zxingcpp.Result]],
) -> None:
    sym = make()
    assert sym.kind == kind and sym.data.encode() == payload.removeprefix(
        b"0" if kind == "upca" else b""
    )
    for dpi in (203, 300, 600):
        img = Image.open(io.BytesIO(render(sym, "png", RenderOptions(dpi=dpi))))
        assert img.info["dpi"][0] == pytest.approx(dpi, abs=0.1)
        got = decode(img, fmt)
        assert [r.bytes for r in got] == [payload], dpi


@pytest.mark.parametrize(("kind", "make", "fmt", "payload"), CASES, ids=[c[0] for c in CASES])
def test_svg_decodes_to_exact_payload(
    kind: str,
    make: Callable[[], symbols.Symbol],
    fmt: zxingcpp.BarcodeFormat,
    payload: bytes,
    decode: Callable[..., list[zxingcpp.Result]],
    svg_raster: Callable[..., Image.Image],
) -> None:
    svg = render(make(), "svg", RenderOptions(module_mm=0.5, bar_height_mm=12))
    assert svg.startswith(b'<svg xmlns="http://www.w3.org/2000/svg"')
    assert [r.bytes for r in decode(svg_raster(svg, 8), fmt)] == [payload]


@pytest.mark.parametrize(("kind", "make", "fmt", "payload"), CASES, ids=[c[0] for c in CASES])
def test_decodes_after_phone_camera_degradation(
    kind: str,
    make: Callable[[], symbols.Symbol],
    fmt: zxingcpp.BarcodeFormat,
    payload: bytes,
    decode: Callable[..., list[zxingcpp.Result]],
    phone_view: Callable[..., Image.Image],
) -> None:
    img = symbol_image(make(), module=6, bar_height=300)
    # ~2.5 px per module is where zxing-cpp starts to fail on a blurred phone frame (docs/limits);
    # the denser Data Matrix needs ~3
    seen = phone_view(
        img, px_per_module=3.0 if kind == "gs1_datamatrix" else 2.5, module_px=6, blur=0.9
    )
    assert [r.bytes for r in decode(seen, fmt)] == [payload]


def test_qr_version_limit_and_ecc() -> None:
    assert symbols.qr("x" * 10).version == 1
    with pytest.raises(SymbolError, match="above the limit 10"):
        symbols.qr("x" * 300, max_version=10)
    with pytest.raises(SymbolError, match="L, M, Q, H"):
        symbols.qr("x", ecc="X")
    high, low = symbols.qr("x" * 100, ecc="H").version, symbols.qr("x" * 100, ecc="L").version
    assert high is not None and low is not None and high > low


def test_retail_symbols_validate_gtin() -> None:
    with pytest.raises(CheckDigitError):
        symbols.ean13("6901234567893")
    with pytest.raises(SymbolError, match="does not fit in 13 digits"):
        symbols.ean13("16901234567899")
    with pytest.raises(SymbolError, match="printable ASCII"):
        symbols.code128("批号")


def test_module_px_rounds_and_never_reaches_zero() -> None:
    assert module_px(0.33, 300) == 4 and module_px(0.01, 300) == 1


def test_unknown_format_is_refused() -> None:
    with pytest.raises(SymbolError, match="known: png, svg"):
        render(symbols.code128("A"), "bmp")
