"""labels.digital_link against GS1's published vectors and our own rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from labels import gs1
from labels.digital_link import (
    DigitalLink,
    gtin_link,
    parse_digital_link,
    percent_encode,
    sscc_link,
)
from labels.errors import DigitalLinkError, LabelError

VECTORS = json.loads((Path(__file__).parents[1] / "vectors/labels/digital_link.json").read_text())


@pytest.mark.parametrize("v", VECTORS["valid"], ids=lambda v: v["uri"])
def test_published_valid_uri_gives_reference_element_string(v: dict[str, str]) -> None:
    link = parse_digital_link(v["uri"])
    assert "^" + link.element_string("^") == v["element_string"]
    # our re-serialisation parses back to the same AIs
    assert parse_digital_link(link.uri()).ais() == link.ais()


@pytest.mark.parametrize("v", VECTORS["invalid"], ids=lambda v: v["uri"] or "<empty>")
def test_published_invalid_uri_is_refused(v: dict[str, str]) -> None:
    with pytest.raises(DigitalLinkError):
        parse_digital_link(v["uri"])


@pytest.mark.parametrize("v", VECTORS["roundtrip"], ids=lambda v: v["input"])
def test_digital_link_js_round_trip(v: dict[str, str]) -> None:
    link = parse_digital_link(v["input"])
    assert link.uri() == v["uri"]
    assert link.param("thngId") == ["U5mQKGDpnymBwQwRakyBqeYh"]
    assert link.attribute("15") == "230911"


@pytest.mark.parametrize("v", VECTORS["percent_encoding"], ids=lambda v: v["path"])
def test_percent_encoding_matches_reference(v: dict[str, str]) -> None:
    assert percent_encode(v["value"]) == v["path"]
    assert percent_encode(v["value"], query=True) == v["query"]


def test_build_canonical_uncompressed_gtin_uri() -> None:
    link = gtin_link(
        "https://t.example.cn/",
        "9520123456788",
        "ABC/1+2",
        "X%Y",
        attributes=[("17", "270630")],
        params=[("k", "abc")],
    )
    assert (
        link.uri()
        == "https://t.example.cn/01/09520123456788/10/ABC%2F1%2B2/21/X%25Y?17=270630&k=abc"
    )
    assert link.canonical_uri() == "https://id.gs1.org/01/09520123456788/10/ABC%2F1%2B2/21/X%25Y"
    back = parse_digital_link(link.uri())
    assert (back.gtin, back.lot, back.serial, back.expiry) == (
        "09520123456788",
        "ABC/1+2",
        "X%Y",
        "270630",
    )


def test_parse_keeps_stem_host_and_unknown_params() -> None:
    link = parse_digital_link(
        "https://T.Example.CN:8443/a/b/01/9520123456788/10/L1/21/S1?17=270630&linkType=gs1:pip&s=x"
    )
    assert link.base == "https://T.Example.CN:8443/a/b"
    assert link.params == (("linkType", "gs1:pip"), ("s", "x"))
    assert (
        link.uri() == "https://T.Example.CN:8443/a/b/01/09520123456788/10/L1/21/S1"
        "?17=270630&linkType=gs1%3Apip&s=x"
    )


def test_sscc_form() -> None:
    link = sscc_link("https://t.example.cn", "376104250021234569")
    assert link.uri() == "https://t.example.cn/00/376104250021234569"
    assert parse_digital_link(link.uri()).key == "376104250021234569"


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("https://a/01/09520123456788/21/S/10/L", r"qualifiers 21/10 after \(01\) are not allowed"),
        ("https://a/01/09520123456788?10=L", r"AI \(10\) is a key qualifier of \(01\)"),
        ("https://a/01/09520123456789", "bad check digit: expected 8, got 9"),
        ("https://a/01/09520123456788/10/" + "L" * 21, "got 21"),
        ("https://a/01/09520123456788/10/A%20B", "forbidden character ' ' at position 2"),
        ("https://a/01/09520123456788?17=271301", "month 13"),
        ("https://a/01/09520123456788?17=", r"\(17\) has an empty value"),
        ("https://a/01/09520123456788?17=270101&17=270102", r"duplicate AI \(17\)"),
        ("https://a/8004/9520614141234567", r"primary key \(8004\) is not supported"),
        ("https://a/01/09520123456788/", "must not end with '/'"),
        ("https://a/01/09520123456788/10/批", "character '批' at position 32"),
        ("ftp://a/01/09520123456788", "scheme must be http"),
        ("https://a/01/09520123456788/10/A%00", "NUL"),
    ],
)
def test_invalid_links_name_the_reason(uri: str, message: str) -> None:
    with pytest.raises(LabelError, match=message):
        parse_digital_link(uri)


def test_value_errors_keep_their_code() -> None:
    with pytest.raises(DigitalLinkError) as e:
        parse_digital_link("https://a/01/09520123456789")
    assert e.value.code == "labels.bad_check_digit"


def test_direct_construction_validates() -> None:
    with pytest.raises(DigitalLinkError, match="resolver base"):
        DigitalLink("t.example.cn", "01", "09520123456788")
    with pytest.raises(DigitalLinkError, match=r"\(00\)"):
        DigitalLink("https://a", "00", "376104250021234569", (("21", "1"),))


_X82 = st.text(alphabet=sorted(gs1.CSET82), min_size=1, max_size=20)


@given(lot=_X82, serial=_X82)
def test_any_cset82_lot_and_serial_round_trip_through_the_uri(lot: str, serial: str) -> None:
    uri = gtin_link(
        "https://t.example.cn", "09520123456788", lot, serial, attributes=[("17", "270630")]
    ).uri()
    assert all(c in _URI_SAFE for c in uri)
    link = parse_digital_link(uri)
    assert (link.lot, link.serial, link.expiry) == (lot, serial, "270630")
    assert gs1.parse_element_string(link.element_string()) == link.ais()


_URI_SAFE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?&=%")
