"""The REST API under ``/api/v1`` (JSON in, JSON or problem+json out)."""

from __future__ import annotations

from flask import Flask

__all__ = ["init_app"]


def init_app(app: Flask) -> None:
    """Import the API's view modules (they register on the blueprint) and register it."""
    from web.api import credit, credit_actions, docs, labels, trace  # noqa: F401  (routes)
    from web.api.spec import bp

    app.register_blueprint(bp)
