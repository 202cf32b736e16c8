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


def _has_nul(value: Any) -> bool:
    """Tell whether a string in ``value`` (keys included) holds U+0000.

    PostgreSQL text cannot store it (psycopg refuses even to send it in a query), so it
    is refused as bad input here rather than failing as a 500 in the database.
    """
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_has_nul(item) for item in value)
    return False


def _whole_numbers(schema: dict[str, Any], value: Any) -> Any:
    """Return ``value`` with each number the schema types ``integer`` as an int, in place.

    JSON Schema counts ``3.0`` as an integer (Validation 2020-12 §6.1.1); ``json`` reads it as
    a float, which views must not see (``range(3.0)`` raises).  Call after validation.
    """
    if isinstance(value, dict):
        for name, sub in (schema.get("properties") or {}).items():
            if name in value:
                value[name] = _whole_numbers(sub, value[name])
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        value[:] = [_whole_numbers(schema["items"], item) for item in value]
    elif isinstance(value, float) and schema.get("type") == "integer" and value.is_integer():
        return int(value)
    return value


def _check_query(validators: dict[str, Draft202012Validator], required: tuple[str, ...]) -> None:
    """Refuse a missing required query parameter, or a value its published schema refuses.

    :raises RequestError: ``request.missing_parameter`` or ``request.invalid_parameter``.
    """
    for name in required:
        if not request.args.get(name):
            raise RequestError(f"query parameter {name!r} is required",
                               code="request.missing_parameter")
    problems = [f"{name}: {err.message}" for name, validator in validators.items()
                for value in request.args.getlist(name) for err in validator.iter_errors(value)]
    if problems:
        error = RequestError("; ".join(problems[:3]), code="request.invalid_parameter")
        error.extra = {"problems": problems[:50]}  # type: ignore[attr-defined]
        raise error


def operation(
    rule: str, method: str, *, summary: str, tag: str, roles: tuple[str, ...] = (),
    body: dict[str, Any] | None = None, query: dict[str, dict[str, Any]] | None = None,
    required_query: tuple[str, ...] = (), responses: dict[str, Any] | None = None,
    status: int = 200, published_body: tuple[str, dict[str, Any]] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a view at ``/api/v1`` + ``rule`` and publish it in the OpenAPI document.

    ``published_body`` documents a body the view validates itself (media type, schema).
    ``roles`` are enforced (a bearer token of one of them, or admin) before the body
    is read.  ``body`` is the JSON Schema of the request body; ``query`` maps query
    parameter names to their schemas (all strings on the wire).  A request that does
    not match is refused with a 400 problem listing every problem.
    """
    body_validator = Draft202012Validator(body, format_checker=_FORMATS) if body else None
    query_validators = {name: Draft202012Validator(schema, format_checker=_FORMATS)
                        for name, schema in (query or {}).items()}

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if roles:
                require_roles(*roles)(lambda: None)()  # authenticate before reading input
            if _has_nul([list(kwargs.values()), list(request.args.lists())]):
                raise RequestError("a path or query parameter contains the character U+0000",
                                   code="request.invalid_parameter")
            if body_validator is not None:
                payload = request.get_json(silent=True)
                if payload is None:
                    raise RequestError("the body must be a JSON document "
                                       "(Content-Type: application/json)",
                                       code="request.not_json")
                problems = _problems(body_validator, payload)
                if _has_nul(payload):
                    problems.append("(body): a string contains the character U+0000")
                if problems:
                    error = RequestError("; ".join(problems[:3]), code="request.invalid_body")
                    error.extra = {"problems": problems}  # type: ignore[attr-defined]
                    raise error
                assert body is not None  # body_validator exists only when body is given
                _whole_numbers(body, payload)  # the view reads the same (cached) document
            _check_query(query_validators, required_query)
            return view(*args, **kwargs)

        bp.add_url_rule(rule, view_func=wrapped, methods=[method])
        _OPERATIONS.append({
            "path": _CONVERTER.sub(r"{\1}", "/api/v1" + rule), "method": method.lower(),
            "summary": summary, "tag": tag, "roles": roles, "body": body, "query": query or {},
            "published_body": published_body,
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
    elif op["published_body"]:
        # Validated by the view itself (e.g. against GS1's EPCIS schema), published here.
        media, schema = op["published_body"]
        obj["requestBody"] = {"required": True, "content": {media: {"schema": schema}}}
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
