"""Mutual ratings: only order parties rate, anti-gaming limits, follow-ups appended."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy.orm import Session

from credit import ratings, services
from credit.errors import Conflict, Duplicate, Forbidden, InvalidInput, NotAParty
from credit.models import PartyPoints, Rating
from ledger.actor import Actor
from ledger.store import entries_of
from tests.credit.helpers import CONSUMER, MERCHANT, NOW, PLATFORM, Tx, ready_merchant

BUYER = "consumer:1"


class Orders:
    """A stand-in for trace: signed orders and their parties."""

    def __init__(self) -> None:
        self.parties: dict[str, dict[str, str]] = {}

    def add(self, order_id: str, seller: str, buyer: str = BUYER, logistics: str = "sf") -> str:
        self.parties[order_id] = {"buyer": buyer, "seller": seller, "logistics": logistics}
        return order_id

    def __call__(self, order_id: str, party_id: str, role: str) -> bool:
        return self.parties.get(order_id, {}).get(role) == party_id


def _rate(tx: Tx, orders: Orders, seller: str, order: str, item: str, at: datetime,
          value: str = "good", **kw: object) -> Rating:
    orders.add(order, seller)
    with tx() as w:
        return ratings.rate(w, CONSUMER, order_id=order, item_key=item, direction="buyer_to_seller",
                            rater_id=BUYER, ratee_id=seller, value=value, now=at, is_party=orders,
                            **kw)  # type: ignore[arg-type]


def test_only_parties_of_the_signed_order_may_rate(tx: Tx) -> None:
    seller = ready_merchant(tx).id
    orders = Orders()
    orders.add("o1", seller)
    with pytest.raises(NotAParty), tx() as w:
        ratings.rate(w, CONSUMER, order_id="o1", item_key="i1", direction="buyer_to_seller",
                     rater_id="consumer:2", ratee_id=seller, value="bad", now=NOW, is_party=orders)
    with pytest.raises(NotAParty), tx() as w:
        ratings.rate(w, CONSUMER, order_id="o1", item_key="i1", direction="buyer_to_seller",
                     rater_id=BUYER, ratee_id="someone-else", value="bad", now=NOW, is_party=orders)
    with pytest.raises(Forbidden), tx() as w:  # a merchant cannot rate as the buyer
        ratings.rate(w, MERCHANT, order_id="o1", item_key="i1", direction="buyer_to_seller",
                     rater_id=BUYER, ratee_id=seller, value="good", now=NOW, is_party=orders)


def test_rating_window_closes_after_signing(tx: Tx) -> None:
    seller = ready_merchant(tx).id
    with pytest.raises(Conflict):
        _rate(tx, Orders(), seller, "o1", "i1", NOW, signed_at=NOW - timedelta(days=16))
    assert _rate(tx, Orders(), seller, "o2", "i2", NOW, signed_at=NOW - timedelta(days=15)).counted


def test_a_pair_moves_at_most_six_points_per_calendar_month(tx: Tx, db_session: Session) -> None:
    seller = ready_merchant(tx).id
    orders = Orders()
    made = [_rate(tx, orders, seller, f"o{i}", f"item{i}", NOW + timedelta(minutes=i))
            for i in range(7)]
    assert [r.points for r in made] == [1, 1, 1, 1, 1, 1, 0]
    assert made[-1].not_counted == "pair_cap" and not made[-1].counted
    assert db_session.get(PartyPoints, seller).points == 6  # type: ignore[union-attr]
    # 1 December in China time: a new period
    december = datetime(2026, 11, 30, 16, 0, tzinfo=timezone.utc)
    assert _rate(tx, orders, seller, "o8", "item8", december).points == 1


def test_bad_ratings_count_against_the_same_cap(tx: Tx, db_session: Session) -> None:
    seller = ready_merchant(tx).id
    orders = Orders()
    values = ["bad"] * 6 + ["bad", "neutral"]
    made = [_rate(tx, orders, seller, f"o{i}", f"item{i}", NOW + timedelta(minutes=i), value=v)
            for i, v in enumerate(values)]
    assert [r.points for r in made] == [-1] * 6 + [0, 0]
    assert (made[6].not_counted, made[7].not_counted) == ("pair_cap", None)
    points = db_session.get(PartyPoints, seller)
    assert points is not None and (points.points, points.bad, points.neutral) == (-6, 6, 1)


def test_repeated_ratings_of_an_item_within_14_days_count_once(tx: Tx) -> None:
    seller = ready_merchant(tx).id
    orders = Orders()
    first = _rate(tx, orders, seller, "o1", "item-x", NOW)
    again = _rate(tx, orders, seller, "o2", "item-x", NOW + timedelta(days=13))
    later = _rate(tx, orders, seller, "o3", "item-x", NOW + timedelta(days=15))
    assert (first.points, again.points, later.points) == (1, 0, 1)
    assert again.not_counted == "repeat_in_window"


def test_one_rating_per_order_and_pair(tx: Tx) -> None:
    seller = ready_merchant(tx).id
    orders = Orders()
    _rate(tx, orders, seller, "o1", "i1", NOW)
    with pytest.raises(Duplicate):
        _rate(tx, orders, seller, "o1", "i1", NOW + timedelta(hours=1), value="bad")


def test_seller_rates_buyer_and_buyer_points_are_kept(tx: Tx, db_session: Session) -> None:
    seller = ready_merchant(tx).id
    orders = Orders()
    orders.add("o1", seller)
    with tx() as w:
        ratings.rate(w, Actor("merchant:1", "merchant"), order_id="o1", item_key="i1",
                     direction="seller_to_buyer", rater_id=seller, ratee_id=BUYER, value="good",
                     now=NOW, is_party=orders)
    assert db_session.get(PartyPoints, BUYER).points == 1  # type: ignore[union-attr]
    assert [e.kind for e in entries_of(db_session, f"party:{BUYER}")] == ["credit.rating"]


def test_follow_up_is_appended_and_the_rating_never_changes(tx: Tx, db_session: Session) -> None:
    seller = ready_merchant(tx).id
    rating = _rate(tx, Orders(), seller, "o1", "i1", NOW, text="很好吃", dsr={"described": 5})
    with pytest.raises(Forbidden), tx() as w:
        ratings.add_followup(w, CONSUMER, rating.id, "consumer:2", "冒充追评", now=NOW)
    with tx() as w:
        ratings.add_followup(w, CONSUMER, rating.id, BUYER, "吃完一周，仍然推荐", now=NOW)
    with pytest.raises(Duplicate), tx() as w:
        ratings.add_followup(w, CONSUMER, rating.id, BUYER, "再追一次", now=NOW)
    db_session.expire_all()
    assert (rating.text, rating.value) == ("很好吃", "good")
    kinds = [e.kind for e in entries_of(db_session, f"subject:{seller}")]
    assert kinds[-2:] == ["credit.rating", "credit.rating_followup"]


def test_follow_up_window_is_180_days(tx: Tx) -> None:
    seller = ready_merchant(tx).id
    rating = _rate(tx, Orders(), seller, "o1", "i1", NOW)
    with pytest.raises(Conflict), tx() as w:
        ratings.add_followup(w, CONSUMER, rating.id, BUYER, "太晚了", now=NOW + timedelta(days=181))


def test_summary_shrinks_the_good_rate_and_averages_dsr(tx: Tx, db_session: Session) -> None:
    seller = ready_merchant(tx).id
    orders = Orders()
    _rate(tx, orders, seller, "o1", "i1", NOW, dsr={"described": 5, "service": 4})
    _rate(tx, orders, seller, "o2", "i2", NOW, dsr={"described": 4, "service": 4, "logistics": 3})
    summary = ratings.rating_summary(db_session, seller, NOW)
    assert (summary.points, summary.good) == (2, 2)
    assert summary.good_rate == pytest.approx(3 / 4)  # (2+1)/(2+0+2), not 100 %
    assert summary.dsr == {"described": (4.5, 2), "service": (4.0, 2), "logistics": (3.0, 1)}


def test_buyer_rates_the_logistics_firm_of_the_order(tx: Tx, db_session: Session) -> None:
    seller = ready_merchant(tx).id
    with tx() as w:
        carrier = services.register_subject(w, PLATFORM, "logistics", "某快递公司",
                                            "91310110666007217T", now=NOW)
    orders = Orders()
    orders.add("o1", seller, logistics=carrier.id)
    with tx() as w:
        rating = ratings.rate(w, CONSUMER, order_id="o1", item_key="i1",
                              direction="buyer_to_logistics", rater_id=BUYER, ratee_id=carrier.id,
                              value="bad", now=NOW, is_party=orders, text="包裹破损")
    assert rating.points == -1
    assert db_session.get(PartyPoints, carrier.id).bad == 1  # type: ignore[union-attr]
    with pytest.raises(InvalidInput), tx() as w:  # DSR stars rate sellers only
        ratings.rate(w, CONSUMER, order_id="o1", item_key="i1", direction="buyer_to_logistics",
                     rater_id=BUYER, ratee_id=carrier.id, value="good", now=NOW, is_party=orders,
                     dsr={"logistics": 5})


def test_times_without_a_zone_are_refused(tx: Tx) -> None:
    seller = ready_merchant(tx).id
    with pytest.raises(InvalidInput, match="no timezone"):
        _rate(tx, Orders(), seller, "o1", "i1", NOW.replace(tzinfo=None))
