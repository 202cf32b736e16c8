"""One source for the REST API's routes, input validation and OpenAPI 3.1 document.

``operation()`` registers a view on the ``/api/v1`` blueprint, validates its JSON
body and query parameters against the same JSON Schemas it publishes, and records
the operation for ``/api/v1/openapi.json``.  Schemathesis fuzzes the API from that
document, so what is published is what is enforced.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, request
from jsonschema import Draft202012Validator, FormatChecker

from web.auth import require_roles
from web.errors import RequestError

__all__ = ["bp", "operation", "openapi_document", "PROBLEM"]

bp = Blueprint("api", __name__, url_prefix="/api/v1")

_OPERATIONS: list[dict[str, Any]] = []
_CONVERTER = re.compile(r"<(?:[a-z]+:)?([a-zA-Z_]+)>")
_FORMATS = FormatChecker()

PROBLEM = {"$ref": "#/components/schemas/Problem"}
_PROBLEM_RESPONSE = {"description": "RFC 9457 problem",
                     "content": {"application/problem+json": {"schema": PROBLEM}}}


def _problems(validator: Draft202012Validator, instance: Any) -> list[str]:
    found = []
    for error in sorted(validator.iter_errors(instance), key=lambda e: list(e.path)):
        where = "/".join(str(p) for p in error.path) or "(body)"
        found.append(f"{where}: {error.message}")
    return found[:50]


def operation(
    rule: str, method: str, *, summary: str, tag: str, roles: tuple[str, ...] = (),
    body: dict[str, Any] | None = None, query: dict[str, dict[str, Any]] | None = None,
    required_query: tuple[str, ...] = (), responses: dict[str, Any] | None = None,
    status: int = 200,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a view at ``/api/v1`` + ``rule`` and publish it in the OpenAPI document.

    ``roles`` are enforced (a bearer token of one of them, or admin) before the body
    is read.  ``body`` is the JSON Schema of the request body; ``query`` maps query
    parameter names to their schemas (all strings on the wire).  A request that does
    not match is refused with a 400 problem listing every problem.
    """
    body_validator = Draft202012Validator(body, format_checker=_FORMATS) if body else None

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if roles:
                require_roles(*roles)(lambda: None)()  # authenticate before reading input
            if body_validator is not None:
                payload = request.get_json(silent=True)
                if payload is None:
                    raise RequestError("the body must be a JSON document "
                                       "(Content-Type: application/json)",
                                       code="request.not_json")
                problems = _problems(body_validator, payload)
                if problems:
                    error = RequestError("; ".join(problems[:3]), code="request.invalid_body")
                    error.extra = {"problems": problems}  # type: ignore[attr-defined]
                    raise error
            for name in required_query:
                if not request.args.get(name):
                    raise RequestError(f"query parameter {name!r} is required",
                                       code="request.missing_parameter")
            return view(*args, **kwargs)

        bp.add_url_rule(rule, view_func=wrapped, methods=[method])
        _OPERATIONS.append({
            "path": _CONVERTER.sub(r"{\1}", "/api/v1" + rule), "method": method.lower(),
            "summary": summary, "tag": tag, "roles": roles, "body": body, "query": query or {},
            "required_query": required_query, "responses": responses or {}, "status": status,
            "operationId": view.__name__, "doc": (view.__doc__ or "").strip(),
            "path_params": _CONVERTER.findall(rule),
        })
        return wrapped

    return decorate


def _operation_object(op: dict[str, Any]) -> dict[str, Any]:
    params = [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
              for n in op["path_params"]]
    params += [{"name": n, "in": "query", "required": n in op["required_query"], "schema": s}
               for n, s in op["query"].items()]
    responses: dict[str, Any] = {str(op["status"]): {
        "description": "success",
        "content": {"application/json": {"schema": op["responses"] or {"type": "object"}}},
    }}
    for code in ("400", "404", "409", "422", "429"):
        responses[code] = _PROBLEM_RESPONSE
    obj: dict[str, Any] = {"operationId": op["operationId"], "summary": op["summary"],
                           "description": op["doc"], "tags": [op["tag"]],
                           "parameters": params, "responses": responses}
    if op["roles"]:
        obj["security"] = [{"bearer": []}]
        obj["description"] += f"\n\nRoles: {', '.join(op['roles'])} (admin may too)."
        responses["401"] = responses["403"] = _PROBLEM_RESPONSE
    if op["body"]:
        obj["requestBody"] = {"required": True,
                              "content": {"application/json": {"schema": op["body"]}}}
    return obj


def openapi_document(server_url: str) -> dict[str, Any]:
    """Return the OpenAPI 3.1 document of every registered operation."""
    paths: dict[str, dict[str, Any]] = {}
    for op in _OPERATIONS:
        paths.setdefault(op["path"], {})[op["method"]] = _operation_object(op)
    return {
        "openapi": "3.1.0",
        "info": {"title": "trace API", "version": "1",
                 "description": "Product traceability, labels and credit (电子商务诚信)."},
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Problem": {
                "type": "object", "required": ["type", "title", "status", "code"],
                "properties": {
                    "type": {"type": "string"}, "title": {"type": "string"},
                    "title_zh": {"type": "string"}, "title_en": {"type": "string"},
                    "status": {"type": "integer"}, "code": {"type": "string"},
                    "detail": {"type": "string"}, "instance": {"type": "string"},
                    "request_id": {"type": ["string", "null"]},
                    "problems": {"type": "array", "items": {"type": "string"}},
                },
            }},
        },
    }
