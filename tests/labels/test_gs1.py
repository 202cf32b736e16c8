"""labels.gs1: check digits, AI validation, element strings."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from labels import gs1
from labels.errors import (
    CharacterError,
    CheckDigitError,
    DateError,
    ElementStringError,
    LengthError,
    UnknownAIError,
)

VECTORS = json.loads(
    (Path(__file__).parents[1] / "vectors/labels/gs1_check_digits.json").read_text()
)


@pytest.mark.parametrize("v", VECTORS["valid"], ids=lambda v: v["value"])
def test_published_check_digits(v: dict[str, Any]) -> None:
    assert gs1.check_digit(v["value"][:-1]) == v["check"]
    digits = v["value"][:-1]
    if "sum" in v:
        total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
        assert total == v["sum"]
    validate = {"gtin": gs1.validate_gtin, "sscc": gs1.validate_sscc, "gln": gs1.validate_gln}[
        v["kind"]
    ]
    assert validate(v["value"]) == v.get("gtin14", v["value"])


def test_validate_gtin_names_expected_and_got_check_digit() -> None:
    with pytest.raises(CheckDigitError, match=r"bad check digit: expected 8, got 9") as e:
        gs1.validate_gtin("9520123456789")
    assert e.value.code == "labels.bad_check_digit"


def test_validate_gtin_rejects_bad_length_with_count() -> None:
    with pytest.raises(LengthError, match=r"got 11") as e:
        gs1.validate_gtin("95201234567")
    assert e.value.code == "labels.bad_length"


def test_validate_gtin_names_forbidden_character_and_position() -> None:
    with pytest.raises(CharacterError, match=r"forbidden character 'O' at position 5"):
        gs1.validate_gtin("0952O123456788")


def test_validate_sscc_and_gln_reject_wrong_check_digit() -> None:
    with pytest.raises(CheckDigitError, match="expected 9, got 0"):
        gs1.validate_sscc("376104250021234560")
    with pytest.raises(CheckDigitError, match="expected 8, got 7"):
        gs1.validate_gln("9520123456787")


@pytest.mark.parametrize(
    ("value", "msg"),
    [
        ("", "got 0"),
        ("A" * 21, "got 21"),
        ("AB C", "' ' at position 3"),
        ("批号", "'批' at position 1"),
        ("A#", "'#' at position 2"),
    ],
)
def test_validate_lot_refuses(value: str, msg: str) -> None:
    with pytest.raises((LengthError, CharacterError), match=msg):
        gs1.validate_lot(value)


def test_gbt33993_profile_refuses_url_characters() -> None:
    assert gs1.validate_serial("A/B") == "A/B"
    with pytest.raises(CharacterError, match="'/' at position 2"):
        gs1.validate_serial("A/B", gbt33993=True)


def test_cset82_has_82_characters() -> None:
    assert len(gs1.CSET82) == 82


@given(st.text(alphabet=sorted(gs1.CSET82), min_size=1, max_size=20))
def test_every_cset82_string_up_to_20_is_a_valid_serial(s: str) -> None:
    assert gs1.validate_serial(s) == s


def test_dates_accept_day_00_and_refuse_bad_month() -> None:
    assert gs1.validate_date("270600") == "270600"
    assert gs1.ai_date("270600", today=dt.date(2026, 1, 1)) == dt.date(2027, 6, 30)
    with pytest.raises(DateError, match="month 13"):
        gs1.validate_date("271301")
    with pytest.raises(DateError, match="day 30"):
        gs1.validate_date("270230")


def test_ai_date_century_window() -> None:
    today = dt.date(2026, 6, 1)
    assert gs1.ai_date("760101", today=today).year == 2076  # 50 ahead
    assert gs1.ai_date("770101", today=today).year == 1977  # 51 ahead -> previous century


def test_element_string_separates_only_after_variable_fields_not_last() -> None:
    ais = [("01", "09520123456788"), ("17", "180426"), ("10", "ABC1"), ("21", "12345")]
    assert gs1.element_string(ais) == "01095201234567881718042610ABC1\x1d2112345"
    assert gs1.hri(ais) == "(01)09520123456788(17)180426(10)ABC1(21)12345"
    assert (
        gs1.element_string([("10", "A"), ("01", "09520123456788")], fnc1="^")
        == "10A^0109520123456788"
    )


@pytest.mark.parametrize(
    "es",
    [
        "0109520123456788",
        "01095201234567881718042610ABC1\x1d2112345",
        "0109520123456788310300019539220299\x1d17201225",
        "0095201234567891234502095201234567883725\x1d10ABC123",
        "4149520123456788\x1d25432a/b",
    ],
)
def test_parse_element_string_round_trips_spec_examples(es: str) -> None:
    ais = gs1.parse_element_string(es)
    assert gs1.element_string(ais) == es.replace("4149520123456788\x1d", "4149520123456788")
    assert gs1.parse_hri(gs1.hri(ais)) == ais


def test_parse_element_string_strips_symbology_identifier() -> None:
    assert gs1.parse_element_string("]d20109520123456788") == [("01", "09520123456788")]


def test_parse_element_string_errors() -> None:
    with pytest.raises(ElementStringError, match="unknown AI at position 1"):
        gs1.parse_element_string("8901")
    with pytest.raises(ElementStringError, match=r"\(01\) needs 14 characters, got 3"):
        gs1.parse_element_string("01095")
    with pytest.raises(UnknownAIError):
        gs1.lookup_ai("89")
