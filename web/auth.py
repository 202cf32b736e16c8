"""API tokens (stored hashed) and the ``Actor`` behind each request.

A token is ``tt_`` + 43 random URL-safe characters; only its SHA-256 is stored,
so a database leak does not leak usable tokens.  Each token names the subject it
acts for (``actor_id``, a credit subject or an operator) and one role.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import datetime, timezone
from functools import wraps
from typing import Any, TypeVar

from flask import g, request
from werkzeug.security import check_password_hash, generate_password_hash
from sqlalchemy import DateTime, LargeBinary, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from ledger.actor import ROLES, Actor
from ledger.base import Base
from web.db import get_session
from web.errors import AuthError, ForbiddenError

__all__ = ["ApiToken", "ConsoleAccount", "issue_token", "revoke_tokens", "current_actor",
           "require_roles", "create_account", "login"]

_PREFIX = "tt_"
F = TypeVar("F", bound=Callable[..., Any])


class ApiToken(Base):
    """A bearer token, by the SHA-256 of its secret."""

    __tablename__ = "web_api_tokens"

    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    actor_id: Mapped[str] = mapped_column(String(200), index=True)
    role: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ConsoleAccount(Base):
    """A console login: a username, a password hash (scrypt), and the actor it acts as."""

    __tablename__ = "web_console_accounts"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    actor_id: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def create_account(session: Session, username: str, password: str, actor: Actor) -> None:
    """Create (or reset) a console login for ``actor``.

    :raises ValueError: for an empty username or a password under 10 characters.
    """
    if not username or len(username) > 64 or not username.isprintable():
        raise ValueError("username must be 1 to 64 printable characters")
    if len(password) < 10:
        raise ValueError("password must be at least 10 characters")
    row = session.get(ConsoleAccount, username)
    if row is None:
        row = ConsoleAccount(username=username, created_at=datetime.now(timezone.utc))
        session.add(row)
    row.password_hash = generate_password_hash(password)
    row.actor_id, row.role = actor.id, actor.role


def login(session: Session, username: str, password: str) -> Actor | None:
    """Return the account's actor when the password matches, else None (no oracle)."""
    row = session.get(ConsoleAccount, username[:64])
    if row is None:
        check_password_hash(_DUMMY_HASH, password)  # same cost whether or not the user exists
        return None
    if not check_password_hash(row.password_hash, password):
        return None
    return Actor(row.actor_id, row.role)


_DUMMY_HASH = generate_password_hash("not a real password")


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def issue_token(session: Session, actor: Actor, label: str = "") -> str:
    """Create a token for ``actor`` and return its secret (shown once, never stored)."""
    if actor.role not in ROLES:
        raise ValueError(f"unknown role {actor.role!r}")
    token = _PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(token_hash=_digest(token), actor_id=actor.id, role=actor.role,
                         label=label, created_at=datetime.now(timezone.utc)))
    return token


def revoke_tokens(session: Session, actor_id: str, label: str | None = None) -> int:
    """Revoke the live tokens of ``actor_id`` (only those with ``label`` if given)."""
    stmt = select(ApiToken).where(ApiToken.actor_id == actor_id, ApiToken.revoked_at.is_(None))
    if label is not None:
        stmt = stmt.where(ApiToken.label == label)
    rows = list(session.scalars(stmt))
    for row in rows:
        row.revoked_at = datetime.now(timezone.utc)
    return len(rows)


def current_actor() -> Actor:
    """Return the actor of this request's bearer token.

    :raises AuthError: when the token is missing, malformed, unknown or revoked.
    """
    if "actor" in g:
        actor: Actor = g.actor
        return actor
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.startswith(_PREFIX) or len(token) > 100:
        raise AuthError("send 'Authorization: Bearer <token>'", code="auth.required")
    row = get_session().get(ApiToken, _digest(token.strip()))
    if row is None or row.revoked_at is not None:
        raise AuthError("the token is unknown or revoked", code="auth.invalid_token")
    actor = Actor(row.actor_id, row.role)
    g.actor = actor
    return actor


def require_roles(*roles: str) -> Callable[[F], F]:
    """Let the view run only for an authenticated actor holding one of ``roles``."""
    unknown = set(roles) - ROLES
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            actor = current_actor()
            if actor.role not in roles and actor.role != "admin":
                raise ForbiddenError(
                    f"role {actor.role!r} may not do this (needs one of {', '.join(roles)})",
                    code="auth.forbidden_role",
                )
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorate
