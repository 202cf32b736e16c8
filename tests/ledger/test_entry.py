"""Tests of ledger.entry: the envelope, RFC 8785 canonical bytes and strict parsing."""

from __future__ import annotations

import base64
import dataclasses
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import entry as entry_module
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


# The fast path of _canonical (json.dumps) must write exactly what rfc8785 writes.
_SPECIAL = st.sampled_from(
    [chr(c) for c in range(0x20)] + ['"', "\\", "/", "\x7f", "\u0080", "\u2028", "\u2029",
                                     "\ufeff", "\uffff", "\U0001f600", "\U0010ffff", "é", "中"]
)
_LONE_SURROGATE = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, categories=["Cs"])
_NO_SURROGATE = st.characters(exclude_categories=["Cs"])
_any_text = st.text(_SPECIAL | _NO_SURROGATE | _LONE_SURROGATE, max_size=12)
_clean_text = st.text(_SPECIAL | _NO_SURROGATE, max_size=12)


def _values(text: st.SearchStrategy[str], keys: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    return st.recursive(
        st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | text,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
        max_leaves=24,
    )


_ascii_keys = st.text(st.characters(max_codepoint=0x7F), max_size=6)


def _rfc8785(value: Any) -> bytes | None:
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, UnicodeEncodeError):  # a lone surrogate
        return None


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(_ascii_keys, _values(_any_text, _ascii_keys), max_size=6))
def test_fast_canonical_path_equals_rfc8785_byte_for_byte(body: dict[str, Any]) -> None:
    assert entry_module._check_value(body, "body") is True  # every key is ASCII: fast path
    want = _rfc8785(body)
    if want is None:  # a lone surrogate: both refuse it
        with pytest.raises(EntryError, match="canonicalised"):
            entry_module._canonical(body, True)
        with pytest.raises(UnicodeEncodeError):
            entry_module._FAST_DUMPS(body).encode("utf-8")
    else:
        assert entry_module._FAST_DUMPS(body).encode("utf-8") == want
        assert entry_module._canonical(body, True) == want


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_any_text, _values(_any_text, _any_text), max_size=6))
def test_make_entry_equals_rfc8785_for_any_keys_and_strings(body: dict[str, Any]) -> None:
    args = {"kind": "trace.production", "time": "2024-05-01T08:00:00+08:00",
            "actor": "producer:1", "subject": "item:1", "prev": None, "body": body}
    want = _rfc8785({**args, "v": 1})
    if want is None:
        with pytest.raises(EntryError, match="canonicalised"):
            make_entry(**args)
        return
    data = make_entry(**args)
    assert data == want
    assert parse_entry(data).raw == data  # and the canonical check accepts it


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_clean_text, _values(_clean_text, _clean_text), max_size=6))
def test_parse_entry_refuses_bytes_in_another_key_order_than_rfc8785(body: dict[str, Any]) -> None:
    data = make_entry("test.event", "2024-05-01T08:00:00Z", "a", "s", None, body)
    # Python's code-point order of the same keys is canonical only when it equals UTF-16's.
    python_order = json.dumps({"body": body, "actor": "a", "kind": "test.event", "prev": None,
                               "subject": "s", "time": "2024-05-01T08:00:00Z", "v": 1},
                              sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    if python_order == data:
        assert parse_entry(python_order).raw == data
    else:
        with pytest.raises(EntryError, match="canonical"):
            parse_entry(python_order)


@pytest.mark.parametrize(
    "text",
    ["\x00\x01\x1f", "\b\f\n\r\t", "\x7f", "\u2028\u2029", "\U0001f600", '"\\/', "\x0b\x1b"],
)
def test_make_entry_escapes_strings_exactly_as_rfc8785(text: str) -> None:
    body = {"s": text, "l": [text], "o": {"k": text}}
    data = example(body=body)
    envelope = json.loads(data)
    assert data == rfc8785.dumps(envelope)
    assert parse_entry(data).body == body


@pytest.mark.parametrize("body", [{"x": "\ud800"}, {"x": ["a\udfff"]}, {"\ud800": 1}])
def test_make_entry_refuses_lone_surrogates(body: dict[str, Any]) -> None:
    with pytest.raises(EntryError, match="canonicalised"):
        example(body=body)


def test_non_ascii_keys_take_the_rfc8785_path() -> None:
    # U+FB33 sorts before U+1F600 by code point, after it by UTF-16 code unit.
    body = {"\U0001f600": 1, "\ufb33": 2}
    assert entry_module._check_value({"a": [{"b": body}]}, "body") is False
    assert b'{"\xf0\x9f\x98\x80":1,"\xef\xac\xb3":2}' in example(body=body)


@pytest.mark.parametrize("text", ["a\x00", "a\x1f", "\x7fa", "x\ty"])
def test_control_characters_in_actor_and_subject_are_refused(text: str) -> None:
    for field in ("actor", "subject"):
        with pytest.raises(EntryError, match="control characters"):
            example(**{field: text})


def test_actor_and_subject_may_hold_other_unicode() -> None:
    data = example(actor="producer:\u2028\u00e9\U0001f600", subject="item:\u4e2d\u0080")
    assert parse_entry(data).subject == "item:\u4e2d\u0080"
