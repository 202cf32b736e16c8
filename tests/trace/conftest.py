"""Fixtures of the trace tests: actors, a write-transaction opener, a stocked batch, GS1 files."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from ledger.actor import Actor
from ledger.sequencer import LogWriter, write_transaction
from ledger.signer import LogSigner
from ledger.store import read_head
from trace import queries, services
from trace.epcis import EpcisSchema
from trace.events import Opening, commit

Tx = Callable[[], AbstractContextManager[LogWriter]]

GTIN = "06901234567892"  # GS1 China prefix 690, mod-10 check digit 2
OTHER_GTIN = "06901234567908"
LOT = "L2026A"
AT = "2026-11-28T09:30:00+08:00"
REPO = Path(__file__).resolve().parents[2]

PRODUCER = Actor("producer:acme", "producer")
RIVAL = Actor("producer:rival", "producer")
MERCHANT = Actor("merchant:shop-1", "merchant")
OTHER_MERCHANT = Actor("merchant:shop-2", "merchant")
PLATFORM = Actor("platform:mall", "platform")
LOGISTICS = Actor("logistics:sf", "logistics")
COURIER = Actor("courier:zhang", "courier")
INSPECTOR = Actor("inspector:samr", "inspector")
CONSUMER = Actor("consumer:app", "consumer")


def key(serial: str, lot: str = LOT, gtin: str = GTIN) -> dict[str, str]:
    """Return the target fields of an item."""
    return {"gtin": gtin, "lot": lot, "serial": serial}


def item(session: Session, serial: str, lot: str = LOT) -> dict[str, Any]:
    """Return the projected row of an item of GTIN, which must exist."""
    row = queries.find_item(session, GTIN, lot, serial)
    assert row is not None, serial
    return row


@pytest.fixture
def tx(db_session: Session, signer: LogSigner) -> Tx:
    """Return a function opening one ledger write transaction: ``with tx() as w:``."""

    @contextmanager
    def opener() -> Iterator[LogWriter]:
        with write_transaction(db_session, signer) as writer:
            yield writer

    return opener


@pytest.fixture
def size(db_session: Session) -> Callable[[], int]:
    """Return a function giving the ledger's current size (to prove nothing was written)."""

    def current() -> int:
        db_session.rollback()
        return read_head(db_session).size

    return current


@dataclass
class Buyer:
    """A sale's buyer: the commitment the platform records and the opening it hands out."""

    commitment: str
    opening: Opening


@pytest.fixture
def stocked(tx: Tx) -> list[str]:
    """Register a food product, produce batch LOT (expiring 2027-11-01) and serialise 10 items."""
    serials = [f"S{i:04d}" for i in range(10)]
    with tx() as w:
        services.register_product(
            w,
            PRODUCER,
            gtin=GTIN,
            name="婴儿奶粉",
            name_en="Infant formula",
            category="food",
            attributes={"net_content": "800 g"},
            at=AT,
        )
        services.create_batch(
            w,
            PRODUCER,
            gtin=GTIN,
            lot=LOT,
            production_date="2026-11-01",
            expiry_date="2027-11-01",
            place="6901234000009",
            at=AT,
        )
        services.serialise_items(w, PRODUCER, gtin=GTIN, lot=LOT, serials=serials, at=AT)
    return serials


@pytest.fixture
def buyer() -> Buyer:
    """A buyer's commitment and its opening."""
    commitment, opening = commit("buyer-account-9527")
    return Buyer(commitment, opening)


def list_item(w: LogWriter, serial: str, merchant: Actor = MERCHANT, at: str = AT) -> None:
    """List one item on the platform, inside the write transaction ``w``."""
    services.record_event(
        w,
        merchant,
        "listing",
        {**key(serial), "platform": "mall", "shop_id": merchant.id, "listing_id": "L-1"},
        at=at,
    )


def sell(
    tx: Tx, serial: str, buyer: Buyer, *, order: str = "order-1", merchant: Actor = MERCHANT
) -> None:
    """List and sell one item."""
    with tx() as w:
        list_item(w, serial, merchant)
        services.record_event(
            w,
            merchant,
            "sale",
            {
                **key(serial),
                "order_id": order,
                "buyer_commitment": buyer.commitment,
                "price_cents": 25900,
                "currency": "CNY",
            },
            at=AT,
        )


def deliver(tx: Tx, serial: str, signer_commitment: str) -> None:
    """Ship, scan and sign for one sold item."""
    with tx() as w:
        services.record_event(
            w,
            MERCHANT,
            "shipment",
            {**key(serial), "waybill": "SF100", "carrier": "SF Express", "weight_g": 1200},
            at=AT,
        )
        services.record_event(
            w, COURIER, "delivery_scan", {**key(serial), "place": "Shanghai hub"}, at=AT
        )
        services.record_event(
            w, COURIER, "signing", {**key(serial), "signer_commitment": signer_commitment}, at=AT
        )


Walk = Callable[..., None]


@pytest.fixture
def walk(tx: Tx, stocked: list[str], buyer: Buyer) -> Walk:
    """Return a function taking an item of the stocked batch through its life up to a stage.

    ``walk("listing")`` lists item S0000 (or ``serial``); ``walk("sale")`` lists it and sells it
    to ``buyer``; ``walk("signing", signer=commitment)`` also ships it, scans it and has it
    signed for by the holder of ``commitment`` (as :func:`sell` then :func:`deliver`). Only a
    listing may be dated otherwise (``at``).
    """

    def to(stage: str, serial: str = "S0000", *, signer: str = "", at: str = AT) -> None:
        if stage == "listing":
            with tx() as w:
                list_item(w, serial, at=at)
            return
        assert stage in ("sale", "signing") and at == AT, (stage, at)
        sell(tx, serial, buyer)
        if stage == "signing":
            assert signer, "walk to signing needs the signer's commitment"
            deliver(tx, serial, signer)

    return to


@pytest.fixture(scope="session")
def examples() -> Path:
    """GS1's EPCIS 2.0 example documents, copied unchanged into tests/vectors/epcis."""
    return REPO / "tests" / "vectors" / "epcis"


@pytest.fixture(scope="session")
def epcis_schema() -> EpcisSchema:
    """The EPCIS 2.0 JSON schema with format checks (GS1's, shipped in trace/standards)."""
    return EpcisSchema.packaged()
