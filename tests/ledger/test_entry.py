"""Tests of ledger.entry: the envelope, RFC 8785 canonical bytes and strict parsing."""

from __future__ import annotations

import base64
import dataclasses
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.entry import MAX_ENTRY_SIZE, Entry, format_time, make_entry, parse_entry
from ledger.errors import EntryError
from ledger.merkle import leaf_hash

PREV = leaf_hash(b"previous entry")
EXAMPLE = (
    b'{"actor":"producer:91350100M000100Y43","body":{"lot":"L1","qty":3},"kind":"trace.production",'
    b'"prev":null,"subject":"item:0106901234567892","time":"2024-05-01T08:00:00+08:00","v":1}'
)


def example(**changes: Any) -> bytes:
    args: dict[str, Any] = {
        "kind": "trace.production",
        "time": "2024-05-01T08:00:00+08:00",
        "actor": "producer:91350100M000100Y43",
        "subject": "item:0106901234567892",
        "prev": None,
        "body": {"qty": 3, "lot": "L1"},
    }
    args.update(changes)
    return make_entry(**args)


def test_make_entry_returns_rfc8785_canonical_bytes() -> None:
    assert example() == EXAMPLE


def test_parse_entry_round_trips_every_field() -> None:
    data = example(prev=PREV, body={"nested": {"list": [1, "two", None, True]}})
    entry = parse_entry(data)
    assert (entry.v, entry.kind, entry.time) == (1, "trace.production", "2024-05-01T08:00:00+08:00")
    assert (entry.actor, entry.subject, entry.prev) == ("producer:91350100M000100Y43", "item:0106901234567892", PREV)
    assert entry.body == {"nested": {"list": [1, "two", None, True]}}
    assert entry.raw == data
    assert entry.leaf_hash == leaf_hash(data)
    assert entry.timestamp == datetime(2024, 5, 1, tzinfo=timezone.utc)


def test_make_entry_writes_prev_as_standard_base64() -> None:
    assert f'"prev":"{base64.b64encode(PREV).decode()}"'.encode() in example(prev=PREV)


def test_make_entry_sorts_body_keys_by_utf16_as_rfc8785_requires() -> None:
    # RFC 8785 §3.2.3 sorting example.
    keys = ["\u20ac", "\r", "\ufb33", "1", "\U0001f600", "\u0080", "\u00f6"]
    entry = parse_entry(example(body={k: i for i, k in enumerate(keys)}))
    assert list(entry.body) == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


def test_make_entry_accepts_an_aware_datetime_and_writes_z_for_utc() -> None:
    data = example(time=datetime(2024, 5, 1, 0, 0, 0, 250000, tzinfo=timezone.utc))
    assert parse_entry(data).time == "2024-05-01T00:00:00.250000Z"
    east8 = timezone(timedelta(hours=8))
    assert format_time(datetime(2024, 5, 1, 8, tzinfo=east8)) == "2024-05-01T08:00:00+08:00"


def test_make_entry_rejects_a_naive_datetime() -> None:
    with pytest.raises(EntryError, match="no timezone offset"):
        example(time=datetime(2024, 5, 1))


@pytest.mark.parametrize(
    "time",
    ["2024-05-01T08:00:00", "2024-05-01 08:00:00Z", "2024-02-30T00:00:00Z", "2024-05-01T08:00:00.1234567Z", "now", 0],
)
def test_make_entry_rejects_times_that_are_not_rfc3339_with_offset(time: Any) -> None:
    with pytest.raises(EntryError, match="time"):
        example(time=time)


@pytest.mark.parametrize("value", [1.5, 1.0, float("nan"), float("inf")])
def test_make_entry_rejects_floats_even_integral_ones(value: float) -> None:
    with pytest.raises(EntryError, match="float"):
        example(body={"amount": value})


@pytest.mark.parametrize("value", [2**53, -(2**53), 10**30])
def test_make_entry_rejects_integers_outside_the_safe_range(value: int) -> None:
    with pytest.raises(EntryError, match="safe integer range"):
        example(body={"n": [value]})


@pytest.mark.parametrize("body", [{1: "x"}, {"x": b"bytes"}, {"x": {1, 2}}, ["not", "an", "object"]])
def test_make_entry_rejects_non_json_bodies(body: Any) -> None:
    with pytest.raises(EntryError):
        example(body=body)


def test_make_entry_rejects_bodies_nested_too_deeply() -> None:
    body: dict[str, Any] = {}
    inner = body
    for _ in range(40):
        inner["x"] = {}
        inner = inner["x"]
    with pytest.raises(EntryError, match="nested deeper"):
        example(body=body)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("kind", ""),
        ("kind", "Trace.Production"),
        ("kind", "trace production"),
        ("actor", ""),
        ("actor", "a\nb"),
        ("subject", "x" * 257),
        ("subject", 7),
        ("prev", b"short"),
        ("prev", "not bytes"),
    ],
)
def test_make_entry_rejects_bad_fields(field: str, value: Any) -> None:
    with pytest.raises(EntryError, match=field):
        example(**{field: value})


def test_make_entry_rejects_entries_larger_than_a_tile_bundle_allows() -> None:
    with pytest.raises(EntryError, match=str(MAX_ENTRY_SIZE)):
        example(body={"blob": "x" * MAX_ENTRY_SIZE})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (EXAMPLE.replace(b",", b", ", 1), "canonical"),
        (EXAMPLE.replace(b'"lot":"L1","qty":3', b'"qty":3,"lot":"L1"'), "canonical"),
        (EXAMPLE.replace(b"L1", b"\\u004c1"), "canonical"),
        (EXAMPLE + b"\n", "canonical"),
        (EXAMPLE.replace(b'"v":1', b'"v":1,"w":2'), "unknown fields"),
        (EXAMPLE.replace(b',"v":1', b""), "no version"),
        (EXAMPLE.replace(b'"v":1', b'"v":2'), "not supported"),
        (EXAMPLE.replace(b'"v":1', b'"v":true'), "not supported"),
        (EXAMPLE.replace(b'"v":1', b'"v":"1"'), "not supported"),
        (EXAMPLE.replace(b'"prev":null,', b""), "lacks fields"),
        (EXAMPLE.replace(b'"qty":3', b'"qty":3.5'), "floats are not allowed"),
        (EXAMPLE.replace(b'"qty":3', b'"qty":1e3'), "floats are not allowed"),
        (EXAMPLE.replace(b'"qty":3', b'"qty":NaN'), "floats are not allowed"),
        (EXAMPLE.replace(b'"qty":3', b'"qty":9007199254740992'), "safe integer range"),
        (EXAMPLE.replace(b'"lot":"L1"', b'"lot":"L1","lot":"L2"'), "repeats the key"),
        (EXAMPLE.replace(b"+08:00", b""), "offset"),
        (EXAMPLE.replace(b'"prev":null', b'"prev":"AAAA"'), "prev"),
        (EXAMPLE.replace(b'{"lot":"L1","qty":3}', b"[]"), "body must be a JSON object"),
        (EXAMPLE.replace(b"L1", b"\xff"), "not UTF-8"),
        (EXAMPLE.replace(b"L1", b"\\ud800"), "canonicalised"),
        (EXAMPLE[:-1], "not JSON"),
        (b"[1]", "must be a JSON object"),
        (b"{" * 5000 + b"}" * 5000, "not JSON"),
        (b" " * (MAX_ENTRY_SIZE + 1), str(MAX_ENTRY_SIZE)),
    ],
)
def test_parse_entry_rejects_malformed_or_non_canonical_bytes(data: bytes, message: str) -> None:
    with pytest.raises(EntryError, match=message):
        parse_entry(data)


def test_parse_entry_rejects_prev_in_non_canonical_base64() -> None:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    good = base64.b64encode(PREV).decode()
    # 32 bytes leave 2 unused bits in the last character before "=": set one.
    bad = good[:-2] + alphabet[alphabet.index(good[-2]) ^ 1] + "="
    assert base64.b64decode(bad) == PREV
    with pytest.raises(EntryError, match="prev"):
        parse_entry(example(prev=PREV).replace(good.encode(), bad.encode()))


def test_parse_entry_rejects_text_instead_of_bytes() -> None:
    with pytest.raises(EntryError, match="bytes"):
        parse_entry(EXAMPLE.decode())  # type: ignore[arg-type]


def test_entry_is_frozen_and_its_body_read_only() -> None:
    entry = parse_entry(EXAMPLE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.kind = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        entry.body["qty"] = 4  # type: ignore[index]
    assert isinstance(hash(entry), int)
    assert entry == parse_entry(EXAMPLE)
    assert isinstance(entry, Entry)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=8), json_values, max_size=6))
def test_make_then_parse_round_trips_any_json_body(body: dict[str, Any]) -> None:
    data = example(body=body)
    entry = parse_entry(data)
    assert entry.body == body
    assert example(body=dict(entry.body)) == data
