"""All models of the service, gathered so that Alembic and tests see the whole schema."""

from __future__ import annotations

import ledger.models  # noqa: F401  (registers the ledger tables)
import trace.label_keys  # noqa: F401  (label signing keys)
import web.auth  # noqa: F401  (API tokens)
from ledger.base import Base

__all__ = ["metadata"]

metadata = Base.metadata
