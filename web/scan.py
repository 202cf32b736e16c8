"""The consumer scan page: what opens when a phone camera reads a label.

The path is the GS1 Digital Link itself (``/01/<gtin>/10/<lot>/21/<serial>?...``).
The page shows one verdict, then the product, producer, batch, the journey and the
shop's credit, the scan count, and forms for the scratch-off code, a review (for
the person who signed), a complaint and a report.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, redirect, render_template, request

from credit import complaints as credit_complaints
from credit import disclosure
from credit import errors as credit_errors
from ledger.actor import Actor
from ledger.errors import DomainError
from trace import label_keys, pins, scans, services, verdict
from trace.events import Opening
from trace.identifiers import item_subject
from web.db import get_session
from web.errors import RequestError
from web.glue import log_keys, master_key, now, origin, writing
from web.ratelimit import limit

__all__ = ["bp", "scan_view"]

bp = Blueprint("scan", __name__)

CONSUMER = Actor("consumer:scan-page", "consumer")
_MAX_TEXT = 2000


def label_uri() -> str:
    """Return the scanned URI as the camera read it (path and query undecoded)."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if not raw:
        raw = request.full_path.rstrip("?")
    return request.host_url.rstrip("/") + raw


def _badge(subject_id: str | None) -> disclosure.Badge | None:
    if not subject_id:
        return None
    try:
        return disclosure.badge(get_session(), subject_id, now())
    except credit_errors.NotFound:
        return None


def _verdict(uri: str) -> verdict.Verdict:
    session = get_session()
    return verdict.verify_scan(session, uri, keyring=label_keys.keyring(session),
                               log_keys=log_keys(), origin=origin(), now=now())


def scan_view(record: bool = True, message: dict[str, str] | None = None,
              status: int = 200) -> tuple[str, int]:
    """Verify the scanned label, record the scan (anonymous, coarse city) and render the page."""
    uri = label_uri().split("#", 1)[0]
    result = _verdict(uri)
    if record and result.item is not None and result.subject:
        session = get_session()
        city = request.headers.get(current_app.config["GEO_CITY_HEADER"])
        scans.record_scan(session, result.subject, city, now())
        session.commit()
        result = _verdict(uri)  # the count and the suspicion include this scan
    item = result.item or {}
    context: dict[str, Any] = {
        "v": result, "uri": uri, "item": item, "batch": result.batch or {},
        "product": result.product or {}, "message": message,
        "producer": _badge((result.product or {}).get("producer")),
        "shop": _badge(item.get("lister")),
        "events": timeline(result),
    }
    return render_template("scan.html", **context), status


def timeline(result: verdict.Verdict) -> list[dict[str, Any]]:
    """Return the journey as display rows, oldest first, corrections marked."""
    if result.history is None:
        return []
    rows = []
    for event in result.history.events:
        body = dict(event.entry.body)
        rows.append({"kind": event.kind, "time": event.entry.time, "index": event.index,
                     "place": body.get("place") or body.get("inspecting_body") or "",
                     "detail": body, "corrected": event.corrected_by is not None,
                     "source": event.source})
    return rows


@bp.get("/01/<path:rest>")
@limit("scan", per_minute=120)
def scan(rest: str) -> tuple[str, int]:
    """Show the scanned label's verdict, origin, journey and credit.

    Switching the language reloads the page but is not a new scan.
    """
    return scan_view(record="lang" not in request.args)


def _opening(field: str) -> Opening:
    raw = (request.form.get(field) or "").strip()
    salt, sep, value = raw.partition(":")
    if not sep or not salt or not value or len(raw) > 600:
        raise RequestError("enter the receipt code you got when you signed for the parcel",
                           code="scan.receipt_code_required")
    return Opening(salt, value)


def _text(field: str) -> str:
    text = (request.form.get(field) or "").strip()
    if not text or len(text) > _MAX_TEXT:
        raise RequestError(f"{field} must be 1 to {_MAX_TEXT} characters", code="scan.bad_text")
    return text


def _item_key(result: verdict.Verdict) -> dict[str, str]:
    if result.item is None or result.link is None:
        raise RequestError("this label does not name an issued item", code="scan.unknown_item")
    return {"gtin": result.item["gtin"], "lot": result.item["lot"],
            "serial": result.item["serial"]}


@bp.post("/01/<path:rest>")
@limit("scan-actions", per_minute=20)
def act(rest: str) -> Response | tuple[str, int]:
    """Handle the page's forms: scratch-off code, review, complaint, report."""
    action = request.form.get("action", "")
    uri = label_uri()
    result = _verdict(uri)
    try:
        message = _perform(action, result)
    except DomainError as exc:
        return scan_view(record=False, status=400 if not isinstance(exc, pins.PinError) else 200,
                         message={"kind": "error", "code": exc.code, "text": exc.detail})
    if message is None:
        return redirect(uri, code=303)
    return scan_view(record=False, message=message)


def _perform(action: str, result: verdict.Verdict) -> dict[str, str] | None:
    if action == "pin":
        key = _item_key(result)
        checked = pins.check_pin(get_session(), item_subject(**key), request.form.get("pin", ""),
                                 master_key(), now(), request.remote_addr or "")
        return {"kind": "pin", "code": checked.status,
                "text": checked.first_used_at.isoformat(timespec="minutes")}
    if action in ("review", "complaint"):
        key, opening, text = _item_key(result), _opening("receipt"), _text("text")
        with writing() as writer:
            if action == "review":
                rating = int(request.form.get("rating", "5"))
                services.record_event(writer, CONSUMER, "review",
                                      key | {"rating": max(1, min(5, rating)), "text": text},
                                      proof=opening)
            else:
                services.record_event(writer, CONSUMER, "complaint", key | {"text": text},
                                      proof=opening)
                _file_case(writer, "complaint", result, text)
        return {"kind": "ok", "code": action, "text": ""}
    if action == "report":
        text = _text("text")
        with writing() as writer:
            _file_case(writer, "report", result, text)
        return {"kind": "ok", "code": "report", "text": ""}
    raise RequestError(f"unknown action {action[:20]!r}", code="scan.unknown_action")


def _file_case(writer: Any, kind: str, result: verdict.Verdict, text: str) -> None:
    item = result.item or {}
    credit_complaints.file_complaint(
        writer, CONSUMER, kind=kind, item_key=result.subject or "unknown",
        merchant_id=item.get("lister") or (result.product or {}).get("producer") or "unknown",
        complainant_id=CONSUMER.id, category="scan_page", text=text, now=now())
