"""Consumer scans: anonymous, coarse, and what makes a cloned label visible.

A scan keeps the item, the time and a coarse place (a city name that the reverse
proxy derives from the address; see ``GEO_CITY_HEADER``).  No address, device id
or cookie is kept.  A label scanned far more often than one consumer would, or in
cities far apart, is *suspicious*: the code has probably been copied.

A busy scan page does not commit once per scan: ``ScanBuffer`` keeps the scans of one
process in memory, counts them at once (``ScanBuffer.summary`` adds the pending ones to
the stored summary) and writes them in batches, one transaction per batch, from a
background thread; pending scans are written at process exit (``atexit``) and by
``flush()``.
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import threading
import weakref
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (BigInteger, Connection, DateTime, Engine, Integer, String, bindparam,
                        insert, select)
from sqlalchemy.orm import Mapped, Session, mapped_column

from ledger.base import Base

__all__ = [
    "ScanRecord", "ScanSummary", "record_scan", "summary_of", "suspicion", "CITIES",
    "MANY_SCANS", "FAR_APART_KM", "normalise_city", "ScanBuffer", "flush",
]

log = logging.getLogger(__name__)

MANY_SCANS = 20  # one consumer checks a label a few times; a clone is checked by many
FAR_APART_KM = 300.0  # beyond a day's local delivery radius
_MAX_CITIES = 16

# Coarse city coordinates (latitude, longitude in degrees), from GeoNames
# (cities15000, geonames.org, CC BY 4.0), rounded to 0.01°.
CITIES: dict[str, tuple[float, float]] = {
    "遂宁": (30.51, 105.57), "青岛": (36.07, 120.38), "北京": (39.91, 116.40),
    "上海": (31.22, 121.46), "广州": (23.12, 113.25), "深圳": (22.55, 114.07),
    "成都": (30.66, 104.07), "重庆": (29.56, 106.55), "杭州": (30.29, 120.16),
    "武汉": (30.58, 114.27), "西安": (34.26, 108.93), "南京": (32.06, 118.78),
    "天津": (39.14, 117.18), "苏州": (31.31, 120.60), "郑州": (34.76, 113.65),
    "长沙": (28.20, 112.97), "沈阳": (41.79, 123.43), "济南": (36.67, 116.99),
    "哈尔滨": (45.75, 126.65), "昆明": (25.04, 102.72), "南宁": (22.82, 108.32),
    "福州": (26.06, 119.31), "厦门": (24.48, 118.08), "合肥": (31.86, 117.28),
    "南昌": (28.68, 115.85), "贵阳": (26.58, 106.72), "兰州": (36.06, 103.79),
    "乌鲁木齐": (43.80, 87.60), "拉萨": (29.65, 91.10), "海口": (20.05, 110.34),
    "石家庄": (38.04, 114.48), "太原": (37.87, 112.56), "呼和浩特": (40.81, 111.65),
    "长春": (43.88, 125.32), "大连": (38.91, 121.60), "宁波": (29.88, 121.55),
    "绵阳": (31.47, 104.68), "烟台": (37.48, 121.44), "潍坊": (36.71, 119.10),
}


class ScanRecord(Base):
    """One anonymous consumer scan."""

    __tablename__ = "trace_scans"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    subject: Mapped[str] = mapped_column(String(200), index=True)
    scanned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    city: Mapped[str] = mapped_column(String(32))


class ScanSummary(Base):
    """Per item: how often, since when and where its label was scanned."""

    __tablename__ = "trace_scan_summaries"

    subject: Mapped[str] = mapped_column(String(200), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)
    first_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    first_city: Mapped[str] = mapped_column(String(32))
    last_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    cities: Mapped[str] = mapped_column(String(600), default="")


def normalise_city(value: str | None) -> str:
    """Return a coarse city name (at most 32 characters), or ``"未知"`` (unknown)."""
    if not value:
        return "未知"
    city = value.strip().removesuffix("市")[:32]
    return city if city.isprintable() and city else "未知"


def record_scan(session: Session, subject: str, city: str | None, now: datetime) -> ScanSummary:
    """Record one scan of ``subject`` and return its updated summary (the caller commits)."""
    place = normalise_city(city)
    session.add(ScanRecord(subject=subject, scanned_at=now, city=place))
    summary = session.get(ScanSummary, subject, with_for_update=True)
    if summary is None:
        summary = ScanSummary(subject=subject, count=0, first_at=now, first_city=place,
                              last_at=now, cities="")
        session.add(summary)
    _count(summary, place, now)
    session.flush()
    return summary


def _count(summary: ScanSummary, place: str, at: datetime) -> None:
    """Add one scan at ``at`` in ``place`` to ``summary``."""
    summary.count += 1
    summary.last_at = at
    known = [c for c in summary.cities.split(",") if c]
    if place not in known and len(known) < _MAX_CITIES:
        summary.cities = ",".join(known + [place])


def summary_of(session: Session, subject: str) -> ScanSummary | None:
    """Return the scan summary of ``subject`` (None if never scanned)."""
    return session.get(ScanSummary, subject)


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    # Haversine distance on a sphere of radius 6371 km.
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(
        (lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


@dataclass(frozen=True)
class Suspicion:
    """Why a label looks copied: a stable code and the facts behind it."""

    code: str
    detail: str


def suspicion(summary: ScanSummary | None) -> list[Suspicion]:
    """Return the reasons to suspect a cloned label (empty when there are none)."""
    if summary is None:
        return []
    reasons = []
    if summary.count > MANY_SCANS:
        reasons.append(Suspicion("scan.many", f"scanned {summary.count} times"))
    known = [c for c in summary.cities.split(",") if c in CITIES]
    for i, a in enumerate(known):
        for b in known[i + 1:]:
            distance = _km(CITIES[a], CITIES[b])
            if distance > FAR_APART_KM:
                reasons.append(Suspicion("scan.far_apart",
                                         f"scanned in {a} and {b}, {distance:.0f} km apart"))
                return reasons
    return reasons


def recent(session: Session, subject: str, limit: int = 20) -> list[ScanRecord]:
    """Return the latest scans of ``subject``, newest first."""
    stmt = (select(ScanRecord).where(ScanRecord.subject == subject)
            .order_by(ScanRecord.id.desc()).limit(limit))
    return list(session.scalars(stmt))


# --------------------------------------------------------------------------- buffered counting

_SUMMARIES = ScanSummary.__table__
_SUMMARY_OF = select(_SUMMARIES).where(_SUMMARIES.c.subject == bindparam("subject"))  # built once
_CHUNK = 500
_buffers: weakref.WeakSet[ScanBuffer] = weakref.WeakSet()


def _utc(when: datetime) -> datetime:
    # SQLite returns naive datetimes for DateTime(timezone=True); we store UTC.
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)


def _merged(subject: str, row: Any, waiting: list[tuple[datetime, str]]) -> ScanSummary | None:
    """Return the stored summary ``row`` with the ``waiting`` scans added (None: no scans).

    A detached ``ScanSummary``: reading it never writes.
    """
    if row is None and not waiting:
        return None
    if row is None:
        count, (first_at, first_city), cities = 0, waiting[0], ""
        last_at = first_at
    else:
        count, first_at, first_city = row.count, _utc(row.first_at), row.first_city
        last_at, cities = _utc(row.last_at), row.cities
    if waiting:  # what _count does per scan, on plain values
        count += len(waiting)
        last_at = waiting[-1][0]
        known = [c for c in cities.split(",") if c]
        for _, place in waiting:
            if place not in known and len(known) < _MAX_CITIES:
                known.append(place)
        cities = ",".join(known)
    return ScanSummary(subject=subject, count=count, first_at=first_at, first_city=first_city,
                       last_at=last_at, cities=cities)


class ScanBuffer:
    """This process's scans that are counted but not written yet.

    ``record`` appends a scan (no database access); a background thread writes what is
    pending every ``interval`` seconds, or as soon as ``batch`` scans wait, in one
    transaction (rows plus summaries).  ``summary`` returns the stored summary with this
    process's pending scans added.  With ``background=False`` every ``record`` writes at
    once (tests, one-off commands).  Above ``limit`` pending scans (the database is
    unreachable, say) ``record`` writes synchronously, so memory stays bounded and the
    error reaches the request.  Nothing about the client is kept: subject, time, city.
    """

    def __init__(self, engine: Engine, *, interval: float = 0.2, batch: int = 100,
                 limit: int = 10_000, background: bool = True) -> None:
        self._engine = engine
        self.interval, self.batch, self.limit, self.background = interval, batch, limit, background
        self._reset()
        _buffers.add(self)

    def _reset(self) -> None:
        # Also after a fork: the child starts empty (the parent writes its own pending scans).
        self._pid = os.getpid()
        self._lock = threading.Lock()  # pending scans; held across a flush's COMMIT
        self._flushing = threading.Lock()  # one flush at a time
        self._pending: deque[tuple[str, datetime, str]] = deque()
        self._by_subject: dict[str, deque[tuple[datetime, str]]] = {}
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def _check_fork(self) -> None:
        if os.getpid() != self._pid:
            self._reset()

    def __len__(self) -> int:
        return len(self._pending)

    def record(self, subject: str, city: str | None, now: datetime) -> None:
        """Count one scan of ``subject`` at ``now`` in the coarse ``city``."""
        self._check_fork()
        with self._lock:
            waiting = self._add(subject, now, normalise_city(city))
        self._written(waiting)

    def _add(self, subject: str, at: datetime, place: str) -> int:
        # Under self._lock.
        self._pending.append((subject, at, place))
        self._by_subject.setdefault(subject, deque()).append((at, place))
        return len(self._pending)

    def _written(self, waiting: int) -> None:
        # Have the pending scans written: now, soon, or when the batch is full.
        if not self.background or waiting >= self.limit:
            self.flush()
            return
        if self._thread is None or not self._thread.is_alive():
            self._start()
        if waiting >= self.batch:
            self._wake.set()

    def summary(self, subject: str) -> ScanSummary | None:
        """Return ``subject``'s stored summary plus this process's pending scans (or None).

        Reads on a connection of its own; see ``count``.
        """
        with self._engine.connect() as connection:
            return self.count(connection, subject)

    def count(self, connection: Connection, subject: str,
              scan: tuple[datetime, str | None] | None = None) -> ScanSummary | None:
        """Count ``scan`` (its time and city) of ``subject`` if given; return the summary.

        The summary is the stored row plus this process's pending scans, this one included.
        The row is read, the scan added and the pending ones taken under the lock that a
        flush holds while it commits: each scan of this process is counted exactly once,
        and concurrent scans in this process see different counts.  The read must be the
        first statement of ``connection``'s transaction (SQLite keeps the snapshot of a
        transaction's first read).  Other processes' pending scans show once they are
        written (within ``interval``).
        """
        self._check_fork()
        with self._lock:
            row = connection.execute(_SUMMARY_OF, {"subject": subject}).first()
            pending = self._add(subject, scan[0], normalise_city(scan[1])) if scan else 0
            waiting = list(self._by_subject.get(subject, ()))
        if scan:
            self._written(pending)
        return _merged(subject, row, waiting)

    def flush(self) -> int:
        """Write every pending scan in one transaction; return how many were written.

        :raises SQLAlchemyError: when the write fails (the scans stay pending).
        """
        self._check_fork()
        with self._flushing:
            with self._lock:
                batch = list(self._pending)
            if not batch:
                return 0
            self._write(batch)
        return len(batch)

    def _write(self, batch: list[tuple[str, datetime, str]]) -> None:
        session = Session(self._engine)
        try:
            # SQLite: take the write lock at BEGIN (no upgrade from a read snapshot).
            session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
            session.execute(insert(ScanRecord), [{"subject": s, "scanned_at": at, "city": place}
                                                 for s, at, place in batch])
            subjects = sorted({s for s, _, _ in batch})  # one lock order for every writer
            found: dict[str, ScanSummary] = {}
            for i in range(0, len(subjects), _CHUNK):
                found.update((row.subject, row) for row in session.scalars(
                    select(ScanSummary).where(ScanSummary.subject.in_(subjects[i:i + _CHUNK]))
                    .order_by(ScanSummary.subject).with_for_update()))
            for subject, at, place in batch:
                summary = found.get(subject)
                if summary is None:
                    summary = found[subject] = ScanSummary(subject=subject, count=0, first_at=at,
                                                           first_city=place, last_at=at, cities="")
                    session.add(summary)
                _count(summary, place, at)
            session.flush()
            with self._lock:  # readers see a scan either pending or committed, never both
                session.commit()
                self._forget(batch)
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def _forget(self, batch: Iterable[tuple[str, datetime, str]]) -> None:
        for subject, _, _ in batch:  # the oldest pending scans, in order
            self._pending.popleft()
            waiting = self._by_subject[subject]
            waiting.popleft()
            if not waiting:
                del self._by_subject[subject]

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stopped = False
            self._thread = threading.Thread(target=self._run, name="scan-buffer", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stopped:
            self._wake.wait(self.interval)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # the database is down or busy: keep the scans, try again
                log.exception("writing %d pending scans failed; retrying", len(self._pending))
                self._wake.wait(max(self.interval, 1.0))

    def close(self) -> None:
        """Stop the background thread and write what is pending (at exit)."""
        if os.getpid() != self._pid:
            return
        self._stopped = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)
        try:
            self.flush()
        except Exception:
            log.exception("lost %d pending scans at exit", len(self._pending))


def flush() -> int:
    """Write the pending scans of every buffer of this process; return how many."""
    return sum(buffer.flush() for buffer in list(_buffers))


@atexit.register
def _close_all() -> None:
    for buffer in list(_buffers):
        buffer.close()
