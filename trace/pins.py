"""Scratch-off PINs (防伪码): a secret printed under a scratch-off layer, checked by the consumer.

A printed QR can be copied; a PIN hidden under a scratch-off layer cannot be read without
scratching it.  The first consumer who enters the right PIN learns "first use" and the item
is marked used (with the time); anyone entering it later learns "already used since ...",
which exposes a copied label or a resold item.

**The PIN.** 8 decimal digits from :mod:`secrets` (10^8, 26.6 bits), printed as two groups
of four.  Digits rather than 6 characters from an unambiguous alphabet (31^6, 29.7 bits):
they type on a phone's numeric keypad, have no look-alikes (0/O, 1/I/l, 2/Z, 5/S, 8/B), read
out unambiguously over a customer hotline, and are what Chinese consumers know a 防伪码 to
be.  The 3 extra bits would not matter: online guessing is capped per item (the 5th wrong PIN
within an hour locks it for 24 h, so a patient guesser stays at 4 an hour: at most ~35,000 a
year, a 3.5 x 10^-4 chance of hitting one item's PIN in a year, 4 x 10^-5 with the letters)
and per client (20 wrong PINs an hour across items).  Input is NFKC-normalised (full-width
digits from a Chinese IME become ASCII) and spaces and hyphens are dropped.

**What is stored.** Never the PIN: only ``HMAC-SHA256(k_pin, subject LF pin)`` with
``k_pin = HKDF-SHA256(MASTER_KEY, info "trace scratch pin v1")`` (RFC 2104, RFC 5869).  A
database dump alone does not allow trying the 10^8 PINs; a dump *and* the master key does, so
the master key is what protects them.  The subject in the message binds a hash to its item:
a row copied onto another item does not verify.  Clients are counted under
``HMAC-SHA256(k_client, client_hint)`` with a second key (info "trace scratch pin client v1"):
the web layer passes a coarse hint (e.g. a hash of the IP's /24), and neither it nor any
address is stored.

**Limits** (NIST SP 800-63B §5.2.2, rate limiting): per item, the 5th wrong PIN within an hour
of the first locks the item for 24 h, and a locked item answers "locked" even to the right
PIN (no oracle while locked).  Per client, wrong PINs are counted in hourly windows and the
estimate ``current + previous x (1 - fraction of the current hour elapsed)`` must stay below
20, else every check is refused.  This sliding-window counter allows about 20 wrong PINs per
rolling hour on average and never more than 40 (a fixed window would allow 40 within two
minutes across the hour boundary), in two small rows per client.

**Transactions.** :func:`check_pin` commits its own writes, also when it raises: a refused
guess must be counted even though the web request ends in an error (whose teardown would
otherwise roll it back).  :func:`issue_pins` leaves the commit to the caller, who commits
before printing: a PIN is shown once and cannot be recovered.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Literal

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import DateTime, Integer, LargeBinary, String, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from ledger.base import Base
from ledger.errors import DomainError

__all__ = [
    "CLIENT_MAX_FAILURES",
    "ITEM_LOCK",
    "ITEM_MAX_FAILURES",
    "ITEM_WINDOW",
    "PIN_DIGITS",
    "NoPinError",
    "PinAttemptRow",
    "PinError",
    "PinExistsError",
    "PinLockedError",
    "PinRateLimitedError",
    "PinResult",
    "PinRow",
    "PinWrongError",
    "check_pin",
    "issue_pins",
    "prune_attempts",
]

PIN_DIGITS = 8
ITEM_MAX_FAILURES = 5  # wrong PINs per item within ITEM_WINDOW before it locks
ITEM_WINDOW = timedelta(hours=1)
ITEM_LOCK = timedelta(hours=24)
CLIENT_MAX_FAILURES = 20  # wrong PINs per client per CLIENT_WINDOW, across items
CLIENT_WINDOW = timedelta(hours=1)

_PIN_INFO = b"trace scratch pin v1"
_CLIENT_INFO = b"trace scratch pin client v1"
_PIN_RE = re.compile(r"[0-9]{%d}" % PIN_DIGITS)
_SEPARATORS = str.maketrans("", "", " -\t")
_IN_CHUNK = 500  # subjects per IN (...) list: well under SQLite's parameter limit


class PinError(DomainError):
    """Base error of scratch-off PIN checks."""

    code = "labels.pin"
    title_en = "Scratch-off code refused"
    title_zh = "防伪码验证未通过"


class PinWrongError(PinError):
    """The PIN does not match the item's PIN (or is not 8 digits)."""

    code = "labels.pin.wrong"
    title_en = "Wrong scratch-off code"
    title_zh = "防伪码错误"


class PinLockedError(PinError):
    """Too many wrong PINs for this item: it is locked until ``locked_until``."""

    code = "labels.pin.locked"
    title_en = "Scratch-off code locked after too many wrong attempts"
    title_zh = "错误次数过多，防伪码已锁定"

    def __init__(self, detail: str, *, locked_until: datetime) -> None:
        super().__init__(detail)
        self.locked_until = locked_until


class PinRateLimitedError(PinError):
    """This client entered too many wrong PINs recently; it may try again later."""

    code = "labels.pin.rate_limited"
    title_en = "Too many wrong scratch-off codes, try again later"
    title_zh = "错误次数过多，请稍后再试"


class NoPinError(PinError):
    """The item was issued no scratch-off PIN."""

    code = "labels.pin.none"
    title_en = "This item has no scratch-off code"
    title_zh = "该商品没有防伪码"


class PinExistsError(PinError):
    """A PIN was requested for an item that already has one (a PIN is issued once)."""

    code = "labels.pin.exists"
    title_en = "Scratch-off code already issued"
    title_zh = "防伪码已发放"


class PinRow(Base):
    """An item's scratch-off PIN, as a keyed hash, and its use and guessing state."""

    __tablename__ = "trace_pins"

    subject: Mapped[str] = mapped_column(String(200), primary_key=True)
    pin_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    used_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True, index=True
    )
    failures: Mapped[int] = mapped_column(Integer, default=0)
    failed_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    locked_until: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True, index=True
    )


class PinAttemptRow(Base):
    """Wrong PINs of one client (keyed hash of its hint) in one hourly window."""

    __tablename__ = "trace_pin_attempts"

    client_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), primary_key=True, index=True
    )
    count: Mapped[int] = mapped_column(Integer)


@dataclass(frozen=True)
class PinResult:
    """A right PIN: ``first_use`` (now marked used) or ``already_used`` since ``first_used_at``."""

    status: Literal["first_use", "already_used"]
    first_used_at: datetime


def _key(master_key: str, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(
        master_key.encode("utf-8")
    )


def _pin_hash(key: bytes, subject: str, pin: str) -> bytes:
    return hmac.new(key, f"{subject}\n{pin}".encode(), hashlib.sha256).digest()


def _utc(when: datetime | None) -> datetime | None:
    # SQLite returns naive datetimes for DateTime(timezone=True); we only ever store UTC.
    if when is None or when.tzinfo is not None:
        return when
    return when.replace(tzinfo=timezone.utc)


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError(f"now must be timezone-aware, got naive {now.isoformat()}")
    return now.astimezone(timezone.utc)


def _normalise(pin: str) -> str | None:
    text = unicodedata.normalize("NFKC", pin).translate(_SEPARATORS)
    return text if _PIN_RE.fullmatch(text) else None


def issue_pins(session: Session, subjects: Sequence[str], master_key: str) -> dict[str, str]:
    """Create a PIN for each item subject, store its keyed hash, and return ``{subject: pin}``.

    The PINs exist only in the returned dict: print them, never log or store them.  The caller
    commits (before printing).

    :raises PinExistsError: if a subject appears twice or already has a PIN (nothing written).
    :raises PinError: (code ``labels.pin.bad_subject``) for an empty subject or one longer than
        200 characters.
    """
    seen: set[str] = set()
    for s in subjects:
        if not s or len(s) > 200:
            raise PinError(f"subject must be 1-200 characters, got {s[:60]!r}",
                           code="labels.pin.bad_subject")
        if s in seen:
            raise PinExistsError(f"subject {s!r} appears twice in the request")
        seen.add(s)
    for i in range(0, len(subjects), _IN_CHUNK):
        chunk = subjects[i : i + _IN_CHUNK]
        taken = session.scalars(select(PinRow.subject).where(PinRow.subject.in_(chunk))).first()
        if taken is not None:
            raise PinExistsError(f"subject {taken!r} already has a PIN")
    key = _key(master_key, _PIN_INFO)
    pins = {s: f"{secrets.randbelow(10**PIN_DIGITS):0{PIN_DIGITS}d}" for s in subjects}
    if pins:
        try:
            with session.begin_nested():  # a concurrent issue for the same subject loses here
                session.execute(insert(PinRow), [
                    {"subject": s, "pin_hash": _pin_hash(key, s, p), "failures": 0}
                    for s, p in pins.items()
                ])
        except IntegrityError:
            raise PinExistsError("a subject was given a PIN concurrently; nothing issued") from None
    return pins


def _client_failures(session: Session, client: bytes, now: datetime) -> float:
    start = _window(now)
    rows = session.execute(
        select(PinAttemptRow.window_start, PinAttemptRow.count).where(
            PinAttemptRow.client_hash == client,
            PinAttemptRow.window_start.in_([start, start - CLIENT_WINDOW]),
        )
    )
    current = previous = 0
    for when, count in rows:
        if _utc(when) == start:
            current = count
        else:
            previous = count
    elapsed = (now - start) / CLIENT_WINDOW
    return current + previous * (1.0 - elapsed)


def _window(now: datetime) -> datetime:
    return now.replace(minute=0, second=0, microsecond=0)  # CLIENT_WINDOW is one hour


def _count_client_failure(session: Session, client: bytes, now: datetime) -> None:
    where = (PinAttemptRow.client_hash == client, PinAttemptRow.window_start == _window(now))
    bump = update(PinAttemptRow).where(*where).values(count=PinAttemptRow.count + 1)
    if session.execute(bump).rowcount:  # type: ignore[attr-defined]
        return
    try:
        with session.begin_nested():
            session.add(PinAttemptRow(client_hash=client, window_start=_window(now), count=1))
    except IntegrityError:  # another request created the window row first
        session.execute(bump)


def _count_item_failure(row: PinRow, now: datetime) -> datetime | None:
    since = _utc(row.failed_since)
    if since is None or now - since >= ITEM_WINDOW:
        row.failures, row.failed_since = 1, now
    else:
        row.failures += 1
    if row.failures < ITEM_MAX_FAILURES:
        return None
    row.failures, row.failed_since, row.locked_until = 0, None, now + ITEM_LOCK
    return row.locked_until


def check_pin(
    session: Session, subject: str, pin: str, master_key: str, now: datetime, client_hint: str
) -> PinResult:
    """Check a consumer's ``pin`` for the item ``subject`` at time ``now``; return its use status.

    The first right PIN marks the item used (``first_use``); later right PINs answer
    ``already_used`` with the first use time.  Checks, in order: the client's limit, the
    item's PIN, its lock, the PIN itself.  Commits its writes, also before raising (a wrong
    guess must be counted).

    :raises PinRateLimitedError: the client made 20 wrong guesses in about the last hour.
    :raises NoPinError: the item has no PIN.
    :raises PinLockedError: the item is locked, or this wrong guess was its 5th in an hour.
    :raises PinWrongError: the PIN is wrong or not 8 digits (malformed input is not counted).
    """
    now = _aware(now)
    client = hmac.new(_key(master_key, _CLIENT_INFO), client_hint.encode(), hashlib.sha256).digest()
    if _client_failures(session, client, now) >= CLIENT_MAX_FAILURES:
        raise PinRateLimitedError(
            f"too many wrong scratch-off codes from this client; try again after "
            f"{(_window(now) + CLIENT_WINDOW).isoformat()}"
        )
    # Row lock (PostgreSQL): concurrent checks of one item count failures and first use exactly.
    row = session.get(PinRow, subject, with_for_update=True)
    if row is None:
        raise NoPinError(f"item {subject!r} has no scratch-off code")
    locked_until = _utc(row.locked_until)
    if locked_until is not None and now < locked_until:
        raise PinLockedError(f"item {subject!r} is locked until {locked_until.isoformat()}",
                             locked_until=locked_until)
    candidate = _normalise(pin)
    if candidate is None:
        raise PinWrongError(f"a scratch-off code is {PIN_DIGITS} digits (item {subject!r})")
    expected = _pin_hash(_key(master_key, _PIN_INFO), subject, candidate)
    if not hmac.compare_digest(expected, row.pin_hash):
        locked = _count_item_failure(row, now)
        _count_client_failure(session, client, now)
        session.commit()
        if locked is not None:
            raise PinLockedError(
                f"wrong scratch-off code for item {subject!r}, the {ITEM_MAX_FAILURES}th within "
                f"an hour: locked until {locked.isoformat()}", locked_until=locked)
        raise PinWrongError(f"wrong scratch-off code for item {subject!r}")
    if row.used_at is None:
        # Conditional, so two right entries at once cannot both be told "first use".
        first = update(PinRow).where(PinRow.subject == subject, PinRow.used_at.is_(None))
        marked = session.execute(
            first.values(used_at=now).execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        session.commit()
        if marked:
            return PinResult("first_use", now)
        session.refresh(row)
    used_at = _utc(row.used_at)
    assert used_at is not None  # marked by this or a concurrent request
    return PinResult("already_used", used_at)


def prune_attempts(session: Session, now: datetime) -> int:
    """Delete client windows that no longer count at ``now``; return how many (caller commits)."""
    cutoff = _window(_aware(now)) - CLIENT_WINDOW
    result = session.execute(delete(PinAttemptRow).where(PinAttemptRow.window_start < cutoff))
    return int(result.rowcount)  # type: ignore[attr-defined]
