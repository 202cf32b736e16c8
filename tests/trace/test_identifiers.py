"""GS1 keys through labels.gs1 (published check-digit examples), subjects and Digital Links."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from trace import identifiers as ids
from trace.errors import BadIdentifier


# GS1 General Specifications §7.9.1 worked examples (also in gs1-brief.md §1).
@pytest.mark.parametrize(
    ("value", "gtin14"),
    [
        ("02345673", "00000002345673"),  # GTIN-8
        ("614141123452", "00614141123452"),  # GTIN-12
        ("9520123456788", "09520123456788"),  # GTIN-13
        ("10614141073464", "10614141073464"),  # GTIN-14
        ("9780345418913", "09780345418913"),  # ISBN as GTIN-13
    ],
)
def test_gtin_accepts_published_examples_and_pads_to_14(value: str, gtin14: str) -> None:
    assert ids.gtin(value) == gtin14


def test_sscc_and_gln_accept_published_examples() -> None:
    assert ids.sscc("376104250021234569") == "376104250021234569"
    assert ids.gln("9520123456788") == "9520123456788"


@pytest.mark.parametrize(
    ("check", "value", "reason"),
    [
        (ids.gtin, "9520123456789", "labels.bad_check_digit"),
        (ids.gtin, "952012345678", "labels.bad_check_digit"),
        (ids.gtin, "95201234567", "labels.bad_length"),
        (ids.gtin, "95201234567A8", "labels.bad_character"),
        (ids.sscc, "376104250021234560", "labels.bad_check_digit"),
        (ids.gln, "9520123456780", "labels.bad_check_digit"),
        (ids.lot, "AB#1", "labels.bad_character"),
        (ids.lot, "", "labels.bad_length"),
        (ids.serial, "x" * 21, "labels.bad_length"),
        (ids.serial, "批号", "labels.bad_character"),
    ],
)
def test_invalid_identifiers_raise_bad_identifier_keeping_the_labels_reason(
    check: Callable[[object], str], value: str, reason: str
) -> None:
    with pytest.raises(BadIdentifier) as info:
        check(value)
    assert info.value.code == "trace.bad_identifier"
    assert info.value.extra["reason"] == reason
    assert value[:5] in info.value.detail or value == ""


def test_non_string_identifier_is_refused() -> None:
    with pytest.raises(BadIdentifier):
        ids.gtin(9520123456788)


def test_subjects_follow_the_ledger_convention() -> None:
    assert ids.product_subject("09520123456788") == "product:09520123456788"
    assert ids.batch_subject("09520123456788", "L1") == "batch:09520123456788:L1"
    assert ids.item_subject("09520123456788", "L1", "42") == "item:09520123456788:L1:42"
    assert ids.sscc_subject("376104250021234569") == "sscc:376104250021234569"


def test_item_subjects_cannot_collide_through_colons_in_lot_or_serial() -> None:
    # CSET 82 allows ':' — lot "A:B" serial "C" and lot "A" serial "B:C" are different items.
    assert ids.item_subject("09520123456788", "A:B", "C") != ids.item_subject(
        "09520123456788", "A", "B:C"
    )


def test_digital_links_are_canonical_and_percent_encoded() -> None:
    assert (
        ids.item_uri("09520123456788", "ABC/1", "12 3")
        == "https://id.gs1.org/01/09520123456788/10/ABC%2F1/21/12%203"
    )
    assert (
        ids.batch_uri("09520123456788", "L1", "https://t.example.cn")
        == "https://t.example.cn/01/09520123456788/10/L1"
    )
    assert ids.sscc_uri("376104250021234569") == "https://id.gs1.org/00/376104250021234569"
