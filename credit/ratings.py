"""Mutual ratings after a signed delivery, follow-ups, and credit points with anti-gaming limits.

Only a party of the signed order rates another party of it (web answers from trace
through a ``PartyCheck``).  A rating is appended and never edited; a follow-up (追评)
is a new entry (电子商务法 Art 39).  Points: good +1, neutral 0, bad −1 (Taobao), but a
rater–ratee pair moves at most ``rules.PAIR_CAP_POINTS`` per calendar month and a
repeated rating of the same item within ``rules.REPEAT_WINDOW`` counts once.  The
service decides the points and writes them into the entry, with the reason when a
rating is not counted, so the points are explainable and replay needs no recount.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from credit import rules
from credit._entries import aware, new_id, require_role, subject_key, write
from credit.errors import Conflict, Duplicate, Forbidden, InvalidInput, NotAParty, NotFound
from credit.models import PartyPoints, Rating, RatingFollowup, Subject
from credit.projections import apply_ratings
from ledger.actor import Actor
from ledger.sequencer import LogWriter

__all__ = ["PartyCheck", "DIRECTIONS", "DSR_KEYS", "rate", "add_followup", "RatingSummary",
           "rating_summary", "beta_expectation"]

# direction -> (rater's role in the order, ratee's role, actor roles that may rate)
DIRECTIONS: dict[str, tuple[str, str, frozenset[str]]] = {
    "buyer_to_seller": ("buyer", "seller", frozenset({"consumer"})),
    "buyer_to_logistics": ("buyer", "logistics", frozenset({"consumer"})),
    "seller_to_buyer": ("seller", "buyer", frozenset({"merchant", "producer"})),
}
# DSR 店铺动态评分, 1–5 stars: 描述相符 / 服务态度 / 物流服务 (Taobao).
DSR_KEYS = ("described", "service", "logistics")
_MAX_TEXT = 500


class PartyCheck(Protocol):
    """Answers from trace whether ``party_id`` is the ``role`` (buyer, seller, logistics)
    of ``order_id`` AND the order was signed for (delivered)."""

    def __call__(self, order_id: str, party_id: str, role: str) -> bool: ...


def _month_start(now: datetime) -> datetime:
    local = now.astimezone(rules.CST)
    return rules.utc(local.replace(day=1, hour=0, minute=0, second=0, microsecond=0))


def _points(session: Session, rater_id: str, ratee_id: str, item_key: str, value: str,
            now: datetime) -> tuple[int, str | None]:
    """Return the points a new rating moves, and why it does not count (None if it does)."""
    pair = (Rating.rater_id == rater_id, Rating.ratee_id == ratee_id, Rating.counted.is_(True))
    repeat = session.scalar(select(Rating.id).where(
        *pair, Rating.item_key == item_key, Rating.created_at > now - rules.REPEAT_WINDOW).limit(1))
    if repeat is not None:
        return 0, "repeat_in_window"
    used = session.scalar(select(func.coalesce(func.sum(func.abs(Rating.points)), 0)).where(
        *pair, Rating.created_at >= _month_start(now)))
    points = rules.RATING_POINTS[value]
    if int(used or 0) + abs(points) > rules.PAIR_CAP_POINTS:
        return 0, "pair_cap"
    return points, None


def _dsr(direction: str, dsr: dict[str, int] | None) -> dict[str, int] | None:
    if dsr is None:
        return None
    if direction != "buyer_to_seller" or set(dsr) - set(DSR_KEYS) or not all(
            isinstance(v, int) and 1 <= v <= 5 for v in dsr.values()):
        raise InvalidInput(f"DSR stars are 1–5 for {DSR_KEYS}, by buyers of sellers only: {dsr!r}")
    return dict(dsr)


def rate(writer: LogWriter, actor: Actor, *, order_id: str, item_key: str, direction: str,
         rater_id: str, ratee_id: str, value: str, now: datetime, is_party: PartyCheck,
         signed_at: datetime | None = None, dsr: dict[str, int] | None = None,
         text: str = "") -> Rating:
    """Append a rating of ``ratee_id`` by ``rater_id`` for the signed order ``order_id``.

    :raises InvalidInput: for an unknown direction or value, bad stars or a long text.
    :raises Forbidden: when the actor's role does not match the rater's side.
    :raises NotAParty: when either party is not of that signed order (``is_party``).
    :raises Conflict: when ``signed_at`` is given and the rating window has closed.
    :raises Duplicate: when this rater rated this ratee for this order already.
    """
    now = aware(now)
    if direction not in DIRECTIONS or value not in rules.RATING_POINTS:
        raise InvalidInput(f"unknown rating direction {direction!r} or value {value!r}")
    rater_role, ratee_role, actor_roles = DIRECTIONS[direction]
    require_role(actor, actor_roles, f"rate as {rater_role}")
    if len(text) > _MAX_TEXT:
        raise InvalidInput(f"rating text is longer than {_MAX_TEXT} characters")
    stars = _dsr(direction, dsr)
    if not is_party(order_id, rater_id, rater_role):
        raise NotAParty(f"{rater_id} is not the {rater_role} of signed order {order_id}")
    if not is_party(order_id, ratee_id, ratee_role):
        raise NotAParty(f"{ratee_id} is not the {ratee_role} of signed order {order_id}")
    if signed_at is not None and not aware(signed_at, "signed_at") <= now <= \
            aware(signed_at, "signed_at") + rules.RATING_WINDOW:
        raise Conflict(f"order {order_id} can be rated within {rules.RATING_WINDOW.days} days "
                       "of signing only")
    session = writer.session
    if session.scalar(select(Rating.id).where(Rating.order_id == order_id,
                                              Rating.rater_id == rater_id,
                                              Rating.ratee_id == ratee_id)):
        raise Duplicate(f"{rater_id} rated {ratee_id} for order {order_id} already")
    points, not_counted = _points(session, rater_id, ratee_id, item_key, value, now)
    rating_id = new_id()
    chain = subject_key(ratee_id) if session.get(Subject, ratee_id) else f"party:{ratee_id}"
    write(writer, actor, now, apply_ratings, [("credit.rating", chain, {
        "id": rating_id, "order_id": order_id, "item_key": item_key, "rater_id": rater_id,
        "ratee_id": ratee_id, "direction": direction, "value": value, "dsr": stars, "text": text,
        "points": points, "counted": not_counted is None, "not_counted": not_counted,
        "rules": rules.RULES_VERSION,
    })])
    return session.get_one(Rating, rating_id)


def add_followup(writer: LogWriter, actor: Actor, rating_id: str, rater_id: str, text: str, *,
                 now: datetime) -> RatingFollowup:
    """Append the one follow-up review (追评) of a rating; the rating stays as it was.

    :raises NotFound: when there is no such rating.
    :raises Forbidden: unless ``rater_id`` wrote the rating.
    :raises InvalidInput: for an empty or long text.
    :raises Conflict: when the follow-up window has closed.
    :raises Duplicate: when the rating has a follow-up already.
    """
    now = aware(now)
    rating = writer.session.get(Rating, rating_id)
    if rating is None:
        raise NotFound(f"no rating {rating_id!r}")
    if rating.rater_id != rater_id:
        raise Forbidden(f"only the rater of {rating_id} may follow it up")
    if not text.strip() or len(text) > _MAX_TEXT:
        raise InvalidInput(f"follow-up text must be 1 to {_MAX_TEXT} characters")
    if now > rules.utc(rating.created_at) + rules.FOLLOWUP_WINDOW:
        raise Conflict(f"rating {rating_id} can be followed up within "
                       f"{rules.FOLLOWUP_WINDOW.days} days only")
    found = select(RatingFollowup.id).where(RatingFollowup.rating_id == rating_id)
    if writer.session.scalar(found):
        raise Duplicate(f"rating {rating_id} has a follow-up already")
    followup_id = new_id()
    chain = subject_key(rating.ratee_id) if writer.session.get(Subject, rating.ratee_id) \
        else f"party:{rating.ratee_id}"
    write(writer, actor, now, apply_ratings, [("credit.rating_followup", chain,
          {"id": followup_id, "rating_id": rating_id, "text": text})])
    return writer.session.get_one(RatingFollowup, followup_id)


def beta_expectation(positive: float, negative: float) -> float:
    """Return the Beta reputation E = (r+1)/(r+s+2) (Jøsang & Ismail, Bled 2002)."""
    return (positive + 1) / (positive + negative + 2)


@dataclass(frozen=True)
class RatingSummary:
    """Points and counts of a party, its Beta-shrunk good rate and DSR averages."""

    party_id: str
    points: int
    good: int
    neutral: int
    bad: int
    good_rate: float
    dsr: dict[str, tuple[float, int]]


def rating_summary(session: Session, party_id: str, now: datetime) -> RatingSummary:
    """Return the rating summary of ``party_id``; DSR stars over ``rules.DSR_WINDOW``."""
    now = aware(now)
    totals = session.get(PartyPoints, party_id)
    good, neutral, bad, points = ((totals.good, totals.neutral, totals.bad, totals.points)
                                  if totals else (0, 0, 0, 0))
    stars: dict[str, list[int]] = {key: [] for key in DSR_KEYS}
    rows = session.scalars(select(Rating.dsr).where(
        Rating.ratee_id == party_id, Rating.created_at > now - rules.DSR_WINDOW,
        Rating.created_at <= now))
    for dsr in rows:
        for key, value in (dsr or {}).items():
            stars[key].append(value)
    averages = {k: (round(sum(v) / len(v), 2), len(v)) for k, v in stars.items() if v}
    return RatingSummary(party_id, points, good, neutral, bad, beta_expectation(good, bad),
                         averages)
