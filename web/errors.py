"""Map exceptions to RFC 9457 problem+json, in one table; request ids and logging.

Domain errors carry a stable ``code`` and titles in Chinese and English (see
``ledger.errors.DomainError``).  This module alone decides their HTTP status.
An unexpected exception becomes a logged 500 that names the request id and never
shows a stack trace.
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from flask import Flask, Response, g, has_request_context, json, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as WerkzeugResponse

from credit import errors as credit_errors
from ledger import errors as ledger_errors
from ledger.errors import DomainError
from trace import errors as trace_errors
from trace import pins

__all__ = ["init_app", "RequestError", "problem", "STATUS_BY_ERROR", "wants_problem_json"]

log = logging.getLogger("web")


class RequestError(DomainError):
    """A request parameter or body is missing or invalid."""

    code = "request.invalid"
    title_en = "Invalid request"
    title_zh = "请求无效"


class AuthError(DomainError):
    """The caller is not authenticated."""

    code = "auth.required"
    title_en = "Authentication required"
    title_zh = "需要身份认证"


class ForbiddenError(DomainError):
    """The caller is authenticated but may not do this."""

    code = "auth.forbidden"
    title_en = "Not allowed"
    title_zh = "无权执行此操作"


# Exception class -> HTTP status.  The most specific class in an error's MRO wins;
# a DomainError not listed here is a 400 (a refusal of bad input).
STATUS_BY_ERROR: dict[type[BaseException], int] = {
    DomainError: 400,
    RequestError: 400,
    AuthError: 401,
    ForbiddenError: 403,
    ledger_errors.NotFound: 404,
    ledger_errors.SequencerError: 409,
    ledger_errors.AuditError: 409,
    trace_errors.NotFound: 404,
    trace_errors.ForbiddenRole: 403,
    trace_errors.ProofMismatch: 403,
    trace_errors.Duplicate: 409,
    trace_errors.RuleViolation: 409,
    trace_errors.EpcisInvalid: 422,
    credit_errors.NotFound: 404,
    credit_errors.Forbidden: 403,
    credit_errors.NotAParty: 403,
    credit_errors.Duplicate: 409,
    credit_errors.Conflict: 409,
    credit_errors.TooEarly: 409,
    credit_errors.InsufficientFunds: 409,
    pins.PinRateLimitedError: 429,
    pins.PinLockedError: 423,
    pins.NoPinError: 404,
}

# Titles of plain HTTP errors (unknown URL, wrong method, ...), keyed by status.
_HTTP_TITLES: dict[int, tuple[str, str, str]] = {
    400: ("http.bad_request", "请求无效", "Bad request"),
    401: ("auth.required", "需要身份认证", "Authentication required"),
    403: ("auth.forbidden", "无权执行此操作", "Not allowed"),
    404: ("http.not_found", "未找到", "Not found"),
    405: ("http.method_not_allowed", "不支持该请求方法", "Method not allowed"),
    413: ("http.too_large", "请求内容过大", "Request too large"),
    415: ("http.unsupported_media_type", "不支持的内容类型", "Unsupported media type"),
    423: ("http.locked", "已锁定", "Locked"),
    429: ("http.rate_limited", "请求过于频繁", "Too many requests"),
    500: ("internal", "服务器内部错误", "Internal server error"),
}

# Scripts and styles only from this origin (inline style attributes allowed; no inline
# script), no framing, forms post only here.
_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_PROBLEM_PREFIXES = ("/api/", "/ledger/", "/.well-known/", "/healthz", "/readyz")


def status_for(exc: BaseException) -> int:
    """Return the HTTP status of ``exc`` from ``STATUS_BY_ERROR`` (most specific class wins)."""
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 500


def wants_problem_json() -> bool:
    """Tell whether this request is answered with problem+json rather than an HTML page."""
    if request.path.startswith(_PROBLEM_PREFIXES):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def problem(
    status: int, code: str, title_zh: str, title_en: str, detail: str | None = None,
    **extra: Any,
) -> Response:
    """Build an RFC 9457 ``application/problem+json`` response."""
    english = has_request_context() and getattr(g, "lang", "zh") == "en"
    body: dict[str, Any] = {
        "type": f"urn:trace:problem:{code}",
        "title": title_en if english else title_zh,
        "title_zh": title_zh,
        "title_en": title_en,
        "status": status,
        "code": code,
    }
    if detail:
        body["detail"] = detail
    if has_request_context():
        body["instance"] = request.path
        body["request_id"] = g.get("request_id")
    body.update(extra)
    response = Response(
        json.dumps(body, ensure_ascii=False), status=status,
        mimetype="application/problem+json",
    )
    return response


def _domain_error(exc: DomainError) -> Response:
    status = status_for(exc)
    extra = getattr(exc, "extra", None) or {}
    return problem(status, exc.code, exc.title_zh, exc.title_en, exc.detail, **extra)


def _http_error(exc: HTTPException) -> Response | HTTPException:
    status = exc.code or 500
    if not wants_problem_json():
        return exc
    code, zh, en = _HTTP_TITLES.get(status, (f"http.{status}", exc.name, exc.name))
    response = problem(status, code, zh, en, exc.description if status != 404 else None)
    if status == 405 and exc.get_response().headers.get("Allow"):
        response.headers["Allow"] = exc.get_response().headers["Allow"]
    return response


def _unexpected(exc: Exception) -> WerkzeugResponse:
    # HTTPException.get_response() builds a plain werkzeug Response (not flask's subclass).
    if isinstance(exc, HTTPException):
        result = _http_error(exc)
        return result if isinstance(result, Response) else result.get_response()
    log.exception("unexpected error (request %s)", g.get("request_id"))
    code, zh, en = _HTTP_TITLES[500]
    return problem(500, code, zh, en, "请联系管理员并提供请求编号 / quote the request id to support")


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


def init_app(app: Flask) -> None:
    """Install request ids, logging and the error handlers on ``app``."""
    handler = logging.StreamHandler()
    handler.addFilter(_RequestIdFilter())
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s")
    )
    for name in ("web", "ledger", "trace", "credit", "labels"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(app.config["LOG_LEVEL"])
        logger.propagate = False

    @app.before_request
    def _request_id() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers["X-Request-ID"] = g.get("request_id", "")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Content-Security-Policy", _CSP)
        return response

    app.register_error_handler(DomainError, _domain_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
