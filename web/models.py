"""All models of the service, gathered so that Alembic and tests see the whole schema."""

from __future__ import annotations

import credit.models  # noqa: F401  (credit subjects, records, lists, fund, ...)
import ledger.models  # noqa: F401  (the log)
import trace.label_keys  # noqa: F401  (label signing keys)
import trace.models  # noqa: F401  (products, batches, items, events)
import trace.pins  # noqa: F401  (scratch-off PINs)
import trace.print_runs  # noqa: F401  (print runs and serial counters)
import trace.scans  # noqa: F401  (anonymous consumer scans)
import web.auth  # noqa: F401  (API tokens)
from ledger.base import Base

__all__ = ["metadata"]

metadata = Base.metadata
