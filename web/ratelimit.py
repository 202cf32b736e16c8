"""Rate limits on public endpoints (scan page, PIN checks, complaints).

Flask-Limiter counts per client address in the configured storage: ``memory://``
(per process; fine for one host) by default, ``redis://…`` in production through
``RATELIMIT_STORAGE_URI`` so that every worker and host shares one count.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

__all__ = ["limiter", "limit", "init_app"]

# No storage_uri here: an argument of the constructor would win over the app's
# RATELIMIT_STORAGE_URI (init_app sets that, memory:// by default).
limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)


def limit(scope: str, *, per_minute: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Limit a view to ``per_minute`` requests per client address, counted under ``scope``."""
    return limiter.limit(f"{per_minute}/minute", scope=scope)


def init_app(app: Flask) -> None:
    """Attach the limiter to ``app`` (storage from ``RATELIMIT_STORAGE_URI``)."""
    app.config.setdefault("RATELIMIT_STORAGE_URI", "memory://")
    limiter.init_app(app)
