"""``/api/v1/openapi.json`` and a browsable page of the API."""

from __future__ import annotations

from flask import Response, current_app, jsonify, render_template

from web.api.spec import bp, openapi_document

__all__: list[str] = []


@bp.get("/openapi.json")
def openapi_json() -> Response:
    """Return the OpenAPI 3.1 document."""
    return jsonify(openapi_document(current_app.config["PUBLIC_BASE_URL"] + "/"))


@bp.get("/docs")
def docs_page() -> str:
    """Render a readable page of every operation (no external assets)."""
    spec = openapi_document(current_app.config["PUBLIC_BASE_URL"] + "/")
    return render_template("api_docs.html", spec=spec)
