"""Consumer scans: anonymous, coarse, and what makes a cloned label visible.

A scan keeps the item, the time and a coarse place (a city name that the reverse
proxy derives from the address; see ``GEO_CITY_HEADER``).  No address, device id
or cookie is kept.  A label scanned far more often than one consumer would, or in
cities far apart, is *suspicious*: the code has probably been copied.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from ledger.base import Base

__all__ = [
    "ScanRecord", "ScanSummary", "record_scan", "summary_of", "suspicion", "CITIES",
    "MANY_SCANS", "FAR_APART_KM", "normalise_city",
]

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
    summary.count += 1
    summary.last_at = now
    known = [c for c in summary.cities.split(",") if c]
    if place not in known and len(known) < _MAX_CITIES:
        summary.cities = ",".join(known + [place])
    session.flush()
    return summary


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
