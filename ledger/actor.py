"""Who writes an entry: an actor id (the envelope's ``actor``) and the role it acts in.

The web layer resolves a bearer token or console login to an ``Actor``; domain
services check the role against their rules and record ``actor.id`` in the entry.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Actor", "ROLES", "SYSTEM"]

# The roles of ARCHITECTURE.md; "consumer" acts through a pseudonymous commitment.
ROLES = frozenset({
    "admin", "producer", "platform", "merchant", "logistics", "courier", "inspector",
    "consumer", "system",
})


@dataclass(frozen=True)
class Actor:
    """An authenticated party: ``id`` as recorded in entries, and its ``role``."""

    id: str
    role: str

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}")
        if not self.id or len(self.id) > 200:
            raise ValueError("actor id must be 1 to 200 characters")


SYSTEM = Actor("system", "system")
