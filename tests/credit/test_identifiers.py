"""统一社会信用代码 checks (GB 32100-2015) on published valid and invalid codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from credit.errors import BadUSCC
from credit.identifiers import REASONS, org_code_check_char, validate_uscc

VECTORS = json.loads((Path(__file__).parent / "uscc_vectors.json").read_text())


def test_every_vector_names_a_known_source() -> None:
    cases = VECTORS["valid"] + VECTORS["invalid"]
    assert all(case[-1] in VECTORS["sources"] for case in cases)


@pytest.mark.parametrize("code,source", VECTORS["valid"])
def test_validate_accepts_published_valid_codes(code: str, source: str) -> None:
    assert validate_uscc(code) == code


@pytest.mark.parametrize("code,reason,source", VECTORS["invalid"])
def test_validate_refuses_published_invalid_codes_with_the_exact_reason(
    code: str, reason: str, source: str
) -> None:
    with pytest.raises(BadUSCC) as caught:
        validate_uscc(code)
    assert caught.value.code == "credit.bad_uscc"
    assert caught.value.reason == reason and reason in REASONS
    assert code.upper() in str(caught.value)


def test_mod31_alone_is_not_enough_so_region_and_gb11714_are_checked() -> None:
    # credit-brief.md pitfall (b): 123456789012345678 passes mod 31 (stdnum agrees).
    from stdnum.cn import uscc

    assert uscc.is_valid("123456789012345678")
    with pytest.raises(BadUSCC, match="region, org_code_check"):
        validate_uscc("123456789012345678")


def test_validate_compacts_spaces_hyphens_and_lower_case() -> None:
    assert validate_uscc(" 91 110000-600037341l ") == "91110000600037341L"


def test_malformed_codes_are_not_attestable_but_failed_checks_are() -> None:
    with pytest.raises(BadUSCC) as short:
        validate_uscc("12345")
    with pytest.raises(BadUSCC) as pilot:
        validate_uscc("91350211M00013FA1N")  # hutool isCreditCode2: an early pilot code
    assert (short.value.attestable, pilot.value.attestable) == (False, True)


@pytest.mark.parametrize("body,check", [
    ("60003734", "1"),  # inside 91110000600037341L
    ("66600721", "7"),  # inside 91310110666007217T
    ("07837757", "X"),  # inside 9115220107837757XE: 10 is written X
    ("MA1K3BTP", "2"),  # letters count as ord - 55 (inside 91310115MA1K3BTP2B)
])
def test_gb11714_check_character_of_published_codes(body: str, check: str) -> None:
    assert org_code_check_char(body) == check


def test_gb11714_refuses_a_malformed_body() -> None:
    with pytest.raises(ValueError):
        org_code_check_char("1234567")
