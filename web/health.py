"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from web.db import get_session
from web.errors import problem

__all__ = ["bp"]

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """Answer 200 while the process serves requests."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> Response:
    """Answer 200 when the database answers, else a 503 problem."""
    try:
        get_session().execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return problem(
            503, "health.database_unreachable", "数据库不可用", "Database unreachable",
            type(exc).__name__,
        )
    return jsonify(status="ready", database="ok")
