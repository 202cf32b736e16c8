"""Factory functions for tests."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from ledger import sequencer
from ledger.signer import LogSigner

TIME = "2026-11-28T09:30:00+08:00"


def new_entries(count: int, subjects: Sequence[str] = ("item:a", "item:b", "item:c"),
                start: int = 0) -> list[sequencer.NewEntry]:
    """Return ``count`` entries spread round-robin over ``subjects``."""
    return [
        sequencer.NewEntry("test.event", TIME, "actor:tester", subjects[(start + i) % len(subjects)],
                           {"n": start + i})
        for i in range(count)
    ]


def append_entries(session: Session, signer: LogSigner, count: int, batch: int = 100,
                   subjects: Sequence[str] = ("item:a", "item:b", "item:c")) -> None:
    """Append ``count`` entries in batches of ``batch``."""
    done = 0
    while done < count:
        n = min(batch, count - done)
        sequencer.append(session, signer, new_entries(n, subjects, start=done))
        done += n
