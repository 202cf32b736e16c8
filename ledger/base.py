"""The declarative base shared by every package's SQLAlchemy models.

It lives in ledger/ because ledger is the bottom of the dependency graph
(trace and credit may import ledger, never the reverse).  Importing this module
imports SQLAlchemy; ``ledger/__init__.py`` does not, so scanner_client can use the
pure ledger modules without it.
"""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

__all__ = ["Base"]

# Deterministic constraint names, so Alembic migrations agree across SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of all models."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
