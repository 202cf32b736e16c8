"""Helpers of the credit tests: actors, a fixed clock, ready-made subjects."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta, timezone

from credit import services
from credit.models import Subject
from ledger.actor import Actor
from ledger.sequencer import LogWriter

NOW = datetime(2026, 11, 28, 1, 30, tzinfo=timezone.utc)  # 09:30 CST
ADMIN = Actor("admin:1", "admin")
PLATFORM = Actor("platform:1", "platform")
INSPECTOR = Actor("inspector:1", "inspector")
MERCHANT = Actor("merchant:1", "merchant")
CONSUMER = Actor("consumer:1", "consumer")
MASTER_KEY = b"k" * 32

# Published valid codes (tests/credit/uscc_vectors.json names their sources).
USCC_A = "91110000600037341L"
USCC_B = "91310110666007217T"
USCC_C = "91370000728611939A"
USCC_PLATFORM = "91330106673959654P"

Tx = Callable[[], AbstractContextManager[LogWriter]]


def ready_merchant(tx: Tx, uscc: str = USCC_A,
                   now: datetime = NOW, licence: str | None = "food_business") -> Subject:
    """Register a merchant that may list food: verified, licensed, committed."""
    with tx() as w:
        subject = services.register_subject(w, PLATFORM, "merchant", "好味食品店", uscc, now=now)
        services.verify_identity(w, PLATFORM, subject.id, method="business_licence", now=now)
        if licence:
            services.add_licence(w, PLATFORM, subject.id, licence, f"JY{uscc[-8:]}", "某市市场监管局",
                                 now - timedelta(days=30), now + timedelta(days=365), now=now)
        services.make_commitment(w, MERCHANT, subject.id, now=now)
    return subject


def platform_subject(tx: Tx, now: datetime = NOW) -> Subject:
    """Register the platform (it holds the consumer-protection fund)."""
    with tx() as w:
        return services.register_subject(w, ADMIN, "platform", "某电商平台", USCC_PLATFORM, now=now)
