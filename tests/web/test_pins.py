"""Scratch-off PINs: stored only as keyed hashes, first use then already used, guessing capped."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Flask
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from trace import pins
from trace.pins import (
    NoPinError,
    PinAttemptRow,
    PinExistsError,
    PinLockedError,
    PinRateLimitedError,
    PinRow,
    PinWrongError,
    check_pin,
    issue_pins,
)

NOW = datetime(2026, 11, 28, 9, 10, tzinfo=timezone.utc)
ITEM = "item:06901234567892:LOT2026A01:SN0000012345"
CLIENT = "ip:3f2a9c"  # what the web layer passes: already a coarse hash, never an address


def _items(n: int) -> list[str]:
    return [f"item:06901234567892:LOT2026A01:SN{i:010d}" for i in range(n)]


def _wrong(pin: str) -> str:
    return f"{(int(pin) + 1) % 10**8:08d}"


@pytest.fixture
def master(app: Flask) -> str:
    key: str = app.config["MASTER_KEY"]
    return key


@pytest.fixture
def check(db_session: Session, master: str) -> Callable[..., pins.PinResult]:
    """``check(subject, pin, now=NOW, client=CLIENT)`` through the app's master key."""

    def _check(subject: str, pin: str, now: datetime = NOW, client: str = CLIENT) -> pins.PinResult:
        return check_pin(db_session, subject, pin, master, now, client)

    return _check


def _issue(db_session: Session, master: str, subjects: list[str]) -> dict[str, str]:
    issued = issue_pins(db_session, subjects, master)
    db_session.commit()
    return issued


def test_pins_are_8_digits_and_only_their_keyed_hash_is_stored(
    app: Flask, db_session: Session, master: str, check: Callable[..., pins.PinResult]
) -> None:
    issued = _issue(db_session, master, _items(50))
    assert sorted(issued) == _items(50)
    assert all(len(p) == 8 and p.isascii() and p.isdigit() for p in issued.values())
    assert len(set(issued.values())) > 45  # random, not a sequence
    check(_items(50)[0], issued[_items(50)[0]])
    with pytest.raises(PinWrongError):
        check(_items(50)[1], _wrong(issued[_items(50)[1]]))
    # The stored hash is HMAC-SHA256(HKDF(master, "trace scratch pin v1"), subject LF pin).
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
               info=b"trace scratch pin v1").derive(master.encode())
    subject = _items(50)[7]
    row = db_session.get(PinRow, subject)
    assert row is not None
    assert row.pin_hash == hmac.new(key, f"{subject}\n{issued[subject]}".encode(),
                                    hashlib.sha256).digest()
    # No PIN and no client hint in any row of either table, nor anywhere in the database files.
    dump = repr([tuple(r) for t in ("trace_pins", "trace_pin_attempts")
                 for r in db_session.execute(text(f"SELECT * FROM {t}"))])
    assert CLIENT not in dump
    url = app.config["DATABASE_URL"]
    files = [Path(url.removeprefix("sqlite:///") + s) for s in ("", "-wal")] \
        if url.startswith("sqlite") else []
    blobs = [dump.encode()] + [f.read_bytes() for f in files if f.exists()]
    for pin in issued.values():
        assert all(pin.encode() not in blob for blob in blobs), pin
    assert all(CLIENT.encode() not in blob for blob in blobs)


def test_first_right_pin_is_first_use_then_already_used_with_the_first_date(
    db_session: Session, master: str, check: Callable[..., pins.PinResult]
) -> None:
    pin = _issue(db_session, master, [ITEM])[ITEM]
    first = check(ITEM, pin)
    assert (first.status, first.first_used_at) == ("first_use", NOW)
    later = check(ITEM, pin, now=NOW + timedelta(days=30), client="ip:other")
    assert (later.status, later.first_used_at) == ("already_used", NOW)


def test_input_as_printed_or_typed_with_full_width_digits_is_accepted(
    db_session: Session, master: str, check: Callable[..., pins.PinResult]
) -> None:
    pin = _issue(db_session, master, [ITEM])[ITEM]
    full_width = "".join(chr(0xFF10 + int(d)) for d in pin)  # a Chinese IME's ０-９
    assert check(ITEM, f"{pin[:4]} {pin[4:]}").status == "first_use"
    assert check(ITEM, full_width).status == "already_used"
    assert check(ITEM, f"{pin[:4]}-{pin[4:]}").status == "already_used"


def test_a_wrong_pin_is_refused_and_counted_even_when_the_caller_rolls_back(
    app: Flask, db_session: Session, master: str, check: Callable[..., pins.PinResult]
) -> None:
    pin = _issue(db_session, master, [ITEM])[ITEM]
    with pytest.raises(PinWrongError) as err:
        check(ITEM, _wrong(pin))
    assert err.value.code == "labels.pin.wrong"
    assert err.value.title_zh == "防伪码错误" and err.value.title_en == "Wrong scratch-off code"
    assert pin not in str(err.value) and _wrong(pin) not in str(err.value)
    db_session.rollback()  # what a failed web request does at teardown
    with app.extensions["sessionmaker"]() as fresh:
        row = fresh.get(PinRow, ITEM)
        assert row is not None and row.failures == 1 and row.used_at is None
        assert fresh.scalars(select(PinAttemptRow.count)).all() == [1]


def test_malformed_input_is_wrong_but_not_counted(
    db_session: Session, master: str, check: Callable[..., pins.PinResult]
) -> None:
    _issue(db_session, master, [ITEM])
    for bad in ("", "1234567", "123456789", "abcdefgh", "１２３４５６７"):
        with pytest.raises(PinWrongError, match="8 digits"):
            check(ITEM, bad)
    row = db_session.get(PinRow, ITEM)
    assert row is not None and row.failures == 0


def test_the_fifth_wrong_pin_within_an_hour_locks_the_item_for_24_hours(
    db_session: Session, master: str, check: Callable[..., pins.PinResult]
) -> None:
    pin = _issue(db_session, master, [ITEM])[ITEM]
    for i in range(4):
        with pytest.raises(PinWrongError):
            check(ITEM, _wrong(pin), now=NOW + timedelta(minutes=10 * i))
    with pytest.raises(PinLockedError) as err:
        check(ITEM, _wrong(pin), now=NOW + timedelta(minutes=50))
    until = NOW + timedelta(minutes=50, hours=24)
    assert err.value.code == "labels.pin.locked" and err.value.locked_until == until
    with pytest.raises(PinLockedError):  # even the right PIN, from another client
        check(ITEM, pin, now=until - timedelta(seconds=1), client="ip:other")
    result = check(ITEM, pin, now=until)
    assert (result.status, result.first_used_at) == ("first_use", until)


def test_wrong_pins_spread_over_more_than_an_hour_do_not_lock(
    db_session: Session, master: str, check: Callable[..., pins.PinResult]
) -> None:
    pin = _issue(db_session, master, [ITEM])[ITEM]
    for hour in (0, 2):
        for i in range(4):
            with pytest.raises(PinWrongError):
                check(ITEM, _wrong(pin), now=NOW + timedelta(hours=hour, minutes=i))
    assert check(ITEM, pin, now=NOW + timedelta(hours=3)).status == "first_use"


def test_a_client_is_limited_to_20_wrong_pins_an_hour_across_items(
    db_session: Session, master: str, check: Callable[..., pins.PinResult]
) -> None:
    items = _items(6)
    issued = _issue(db_session, master, items)
    for n in range(20):  # 4 per item on 5 items: no item locks
        item = items[n // 4]
        with pytest.raises(PinWrongError):
            check(item, _wrong(issued[item]), now=NOW + timedelta(minutes=n))
    with pytest.raises(PinRateLimitedError) as err:  # even the right PIN of a fresh item
        check(items[5], issued[items[5]], now=NOW + timedelta(minutes=21))
    assert err.value.code == "labels.pin.rate_limited"
    assert err.value.title_zh == "错误次数过多，请稍后再试"
    assert check(items[5], issued[items[5]], now=NOW + timedelta(minutes=22),
                 client="ip:neighbour").status == "first_use"
    # 10:05, a new hourly window: the previous one still counts for 55/60 of its 20, so only
    # two more wrong PINs pass (a fixed window would allow 20 at once).
    later = NOW + timedelta(minutes=55)
    for _ in range(2):
        with pytest.raises(PinWrongError):
            check(items[5], _wrong(issued[items[5]]), now=later)
    with pytest.raises(PinRateLimitedError):
        check(items[0], issued[items[0]], now=later)
    assert check(items[0], issued[items[0]], now=NOW + timedelta(hours=2)).status == "first_use"


def test_another_master_key_does_not_verify(
    db_session: Session, master: str
) -> None:
    pin = _issue(db_session, master, [ITEM])[ITEM]
    with pytest.raises(PinWrongError):
        check_pin(db_session, ITEM, pin, "another master key", NOW, CLIENT)
    assert check_pin(db_session, ITEM, pin, master, NOW, CLIENT).status == "first_use"


def test_a_hash_copied_to_another_item_does_not_verify(
    db_session: Session, master: str, check: Callable[..., pins.PinResult]
) -> None:
    a, b = _items(2)
    issued = _issue(db_session, master, [a, b])
    row_a, row_b = db_session.get(PinRow, a), db_session.get(PinRow, b)
    assert row_a is not None and row_b is not None
    row_b.pin_hash = row_a.pin_hash
    db_session.commit()
    with pytest.raises(PinWrongError):
        check(b, issued[a])


def test_an_item_without_a_pin_and_a_second_issue_are_refused(
    db_session: Session, master: str, check: Callable[..., pins.PinResult]
) -> None:
    with pytest.raises(NoPinError) as err:
        check(ITEM, "12345678")
    assert err.value.code == "labels.pin.none" and err.value.title_zh == "该商品没有防伪码"
    _issue(db_session, master, [ITEM])
    with pytest.raises(PinExistsError, match="already has a PIN"):
        issue_pins(db_session, [_items(1)[0], ITEM], master)
    with pytest.raises(PinExistsError, match="appears twice"):
        issue_pins(db_session, [_items(1)[0], _items(1)[0]], master)
    db_session.rollback()
    assert db_session.scalars(select(PinRow.subject)).all() == [ITEM]


def test_issue_writes_a_print_run_in_bulk(db_session: Session, master: str) -> None:
    issued = _issue(db_session, master, _items(2_000))
    assert len(issued) == 2_000
    assert len(db_session.scalars(select(PinRow.subject)).all()) == 2_000


def test_prune_drops_windows_that_no_longer_count(
    db_session: Session, master: str, check: Callable[..., pins.PinResult]
) -> None:
    pin = _issue(db_session, master, [ITEM])[ITEM]
    with pytest.raises(PinWrongError):
        check(ITEM, _wrong(pin))
    assert pins.prune_attempts(db_session, NOW + timedelta(hours=1)) == 0  # still weighs in
    assert pins.prune_attempts(db_session, NOW + timedelta(hours=2)) == 1
    db_session.commit()
    assert db_session.scalars(select(PinAttemptRow)).all() == []


def test_naive_time_is_refused(db_session: Session, master: str) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        check_pin(db_session, ITEM, "12345678", master, datetime(2026, 1, 1), CLIENT)
