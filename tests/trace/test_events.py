"""Event bodies: validation, commitments, card-number refusal, RFC 3339 times."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from trace.errors import BadEvent, BadIdentifier, CardNumberRefused
from trace.events import (
    Opening,
    check_no_card_number,
    commit,
    commitment_of,
    event_time,
    parse_event,
)

ITEM = {"gtin": "06901234567892", "lot": "L1", "serial": "S1"}


def test_parse_event_returns_target_and_normalised_fields() -> None:
    target, fields = parse_event(
        "shipment", {**ITEM, "waybill": "SF1", "carrier": " SF ", "weight_g": 800}
    )
    assert (target.level, target.subject) == ("item", "item:06901234567892:L1:S1")
    assert fields == {"waybill": "SF1", "carrier": "SF", "weight_g": 800}


def test_an_sscc_body_targets_the_logistic_unit() -> None:
    target, _ = parse_event(
        "shipment", {"sscc": "376104250021234569", "waybill": "W", "carrier": "C", "weight_g": 1}
    )
    assert (target.level, target.subject) == ("unit", "sscc:376104250021234569")


@pytest.mark.parametrize(
    ("kind", "body", "message"),
    [
        ("teleport", ITEM, "unknown event kind"),
        (
            "sale",
            {**ITEM, "order_id": "o", "price_cents": 1, "currency": "CNY"},
            "missing required field buyer_commitment",
        ),
        ("review", {**ITEM, "rating": 6}, "rating must be an integer from 1 to 5"),
        ("review", {**ITEM, "rating": 4.5}, "rating must be an integer"),
        ("review", {**ITEM, "rating": 5, "author": "x"}, "unknown field(s) author"),
        (
            "sale",
            {
                **ITEM,
                "order_id": "o",
                "buyer_commitment": "zz",
                "price_cents": 1,
                "currency": "CNY",
            },
            "64 lowercase hex",
        ),
        (
            "sale",
            {
                **ITEM,
                "order_id": "o",
                "buyer_commitment": "a" * 64,
                "price_cents": 1,
                "currency": "rmb",
            },
            "ISO 4217",
        ),
        ("recall", ITEM, "applies to a batch"),
        (
            "production",
            {"gtin": "06901234567892", "lot": "L1", "production_date": "2026-13-01"},
            "YYYY-MM-DD",
        ),
        ("aggregation", {"sscc": "376104250021234569", "items": [ITEM, ITEM]}, "repeats an item"),
        ("aggregation", {"sscc": "376104250021234569"}, "at least one child"),
    ],
)
def test_malformed_bodies_are_refused_with_the_reason(
    kind: str, body: dict[str, object], message: str
) -> None:
    with pytest.raises(BadEvent, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_event(kind, body)


def test_bad_gtin_in_a_body_is_a_bad_identifier() -> None:
    with pytest.raises(BadIdentifier):
        parse_event("delivery_scan", {**ITEM, "gtin": "06901234567893", "place": "hub"})


@pytest.mark.parametrize(
    "text",
    [
        "4111111111111111",
        "card 4111 1111 1111 1111 paid",
        "4111-1111-1111-1111",
        "378282246310005",
        "6212345678901265",
    ],
)
def test_payment_fields_refuse_card_numbers(text: str) -> None:
    with pytest.raises(CardNumberRefused) as info:
        parse_event("payment", {**ITEM, "institution": "UnionPay", "reference": text})
    assert info.value.code == "trace.card_number_refused"
    assert "1111" not in info.value.detail  # the number is never echoed


@pytest.mark.parametrize(
    "text",
    [
        "2026112822001404150512345678",  # 28-digit Alipay-style trade number
        "4111111111111112",  # 16 digits failing Luhn
        "TX-20261128-0001",
        "123456789012",  # 12 digits: too short for a PAN
    ],
)
def test_payment_references_that_are_not_card_numbers_pass(text: str) -> None:
    check_no_card_number("reference", text)


def test_commitment_opens_only_with_the_same_salt_and_value() -> None:
    commitment, opening = commit("13800138000")
    assert len(commitment) == 64 and "13800138000" not in commitment
    assert commitment_of(opening) == commitment
    assert commitment_of(Opening(opening.salt, "13800138001")) != commitment
    assert "13800138000" not in repr(opening)


def test_short_salts_are_refused() -> None:
    with pytest.raises(BadEvent, match="salt"):
        commitment_of(Opening("00ff", "x"))


def test_event_time_requires_an_offset() -> None:
    assert event_time("2026-11-28T09:30:00+08:00") == "2026-11-28T09:30:00+08:00"
    assert event_time(datetime(2026, 11, 28, 1, 30, tzinfo=timezone.utc)) == "2026-11-28T01:30:00Z"
    with pytest.raises(BadEvent, match="offset"):
        event_time("2026-11-28T09:30:00")
    with pytest.raises(BadEvent, match="offset"):
        event_time(datetime(2026, 11, 28, 9, 30))
