"""The consumer scan page: what opens when a phone camera reads a label.

The path is the GS1 Digital Link itself (``/01/<gtin>/10/<lot>/21/<serial>?...``).
The page shows one verdict, then the product, producer, batch, the journey and the
shop's credit, the scan count, and forms for the scratch-off code, a review (for
the person who signed), a complaint and a report.

Per request the page reads the log's size and root (one primary-key lookup), the item's
state (``trace.queries.item_state``), the head of each credit subject's chain
(``credit.disclosure.badge_state``) and the item's scan summary; everything else comes
from per-process caches keyed on those (``trace.verdict.ScanCache``, the journey, the
credit badges, the rendered page), so appends about other objects leave them valid.
The scan is counted in this process's ``trace.scans.ScanBuffer`` rather than committed
per request.
"""

from __future__ import annotations

import base64
import dataclasses
import secrets
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, Flask, current_app, g, redirect, render_template, request
from flask_babel import get_translations
from flask_wtf.csrf import generate_csrf
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup
from werkzeug.wrappers import Response

from credit import complaints as credit_complaints
from credit import disclosure
from credit import errors as credit_errors
from credit import rules as credit_rules
from credit.lists import active_entries
from credit.services import active_commitment, get_subject
from ledger.actor import Actor
from ledger.errors import DomainError
from trace import label_keys, pins, scans, services, verdict
from trace.events import Opening
from trace.identifiers import item_subject
from web.db import get_read_session, get_session
from web.errors import RequestError
from web.glue import log_keys, master_key, now, origin, writing
from web.ratelimit import limit

__all__ = ["bp", "scan_view"]

bp = Blueprint("scan", __name__)

CONSUMER = Actor("consumer:scan-page", "consumer")
_MAX_TEXT = 2000
# A badge is recomputed at least this often: licences, list entries, commitments and the
# identity check end at times the cache knows; one that *starts* later shows within this.
_BADGE_TTL = timedelta(seconds=60)


class _PageCaches:
    """What one process keeps between scan requests (see the module docstring)."""

    def __init__(self, app: Flask) -> None:
        # About 35 KiB per label at 1M entries (history with proofs, journey, page): a full
        # set of caches is about 70 MB per process.
        size = int(app.config.get("SCAN_CACHE_SIZE", 2048))
        self.verdicts = verdict.ScanCache(size)
        self.timelines: verdict.BoundedCache[tuple[str, int, bytes], list[dict[str, Any]]] = (
            verdict.BoundedCache(size))
        self.badges: verdict.BoundedCache[tuple[str, int | None],
                                          tuple[disclosure.Badge | None, datetime]] = (
            verdict.BoundedCache(256))
        self.badge_states: verdict.BoundedCache[
            str, tuple[verdict.LogState, tuple[str, int | None]]] = verdict.BoundedCache(256)
        self.pages: verdict.BoundedCache[tuple[Any, ...], str] = verdict.BoundedCache(
            int(app.config.get("SCAN_PAGE_CACHE_SIZE", 2048)))  # pages are about 5-7 KB
        # Tests see every scan written at once; a served page counts in memory first.
        self.engine = app.extensions["engine"]
        self.read_engine = app.extensions["read_engine"]  # the replica, if one is configured
        self.log_keys = log_keys()  # the signer's key is fixed for the application's life
        self.scans = scans.ScanBuffer(
            self.engine,
            background=bool(app.config.get("SCAN_BUFFER", not app.testing)),
            interval=float(app.config.get("SCAN_FLUSH_INTERVAL", 0.2)),
            batch=int(app.config.get("SCAN_FLUSH_BATCH", 100)))


def page_caches() -> _PageCaches:
    """Return this application's scan-page caches and scan buffer (created on first use)."""
    caches = current_app.extensions.get("scan_page")
    if caches is None:
        caches = current_app.extensions.setdefault("scan_page", _PageCaches(current_app))
    return caches  # type: ignore[no-any-return]


def label_uri() -> str:
    """Return the scanned URI as the camera read it (path and query undecoded)."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if not raw:
        raw = request.full_path.rstrip("?")
    return request.host_url.rstrip("/") + raw


def _cached_badge(subject_id: str | None, log: verdict.LogState | None
                  ) -> tuple[disclosure.Badge | None, Any]:
    """Return the credit badge of ``subject_id`` now, from the cache while nothing changed,
    and what identifies this computation of it."""
    if not subject_id:
        return None, ()
    at = now()
    caches = page_caches()
    session = get_read_session()
    # The subject's chain head (disclosure.badge_state), read again only once the log has
    # changed since; read first, in the transaction that computes the badge.
    checked = caches.badge_states.get(subject_id)
    if checked is not None and log is not None and checked[0] == log:
        key = checked[1]
    else:
        key = (subject_id, disclosure.badge_state(session, subject_id))
        if log is not None:
            caches.badge_states.put(subject_id, (log, key))
    cache = caches.badges
    hit = cache.get(key)
    if hit is not None and at < hit[1]:
        data = dataclasses.replace(hit[0], as_of=at) if hit[0] is not None else None
        return data, (subject_id, hit[1])
    try:
        data = disclosure.badge(session, subject_id, at)
    except credit_errors.NotFound:
        data = None
    expiry = _badge_expiry(session, subject_id, data, at)
    cache.put(key, (data, expiry))
    return data, (subject_id, expiry)


def _badge_expiry(session: Any, subject_id: str, data: disclosure.Badge | None,
                  at: datetime) -> datetime:
    """Return when the badge computed at ``at`` must be computed again (at most ``_BADGE_TTL``)."""
    ends = [at + _BADGE_TTL]
    if data is None:
        return ends[0]
    ends += [lic.valid_until for lic in data.licences]
    ends += [credit_rules.utc(e.auto_end) for e in active_entries(session, subject_id, at)
             if e.auto_end is not None]
    commitment = active_commitment(session, subject_id, at)
    if commitment is not None and commitment.valid_until is not None:
        ends.append(credit_rules.utc(commitment.valid_until))
    due = get_subject(session, subject_id).verification_due
    if due is not None and credit_rules.utc(due) > at:
        ends.append(credit_rules.utc(due))
    return min(ends)


def _verdict(uri: str, log: verdict.LogState | None = None) -> verdict.Verdict:
    """Return the verdict of ``uri`` through stage (5) (``verdict.conclude`` adds the scans)."""
    caches = page_caches()
    if log is None:
        with caches.read_engine.connect() as connection:  # lighter than an ORM session
            log = verdict.log_state(connection)
    session = get_read_session()  # only for what is not cached
    return caches.verdicts.verify(
        session, uri, keyring=lambda: label_keys.keyring(session), log_keys=caches.log_keys,
        origin=origin(), now=now(), log=log)


class _Count(int):
    """A scan count that templates render as a placeholder, filled in after rendering.

    The rendered page is cached without the count (it changes with every scan); comparisons
    (``count > MANY_SCANS``) see the real number.
    """

    def __str__(self) -> str:
        return _COUNT_HOLE

    def __format__(self, spec: str) -> str:
        return _COUNT_HOLE


# Placeholders: letters and digits only (nothing to escape), random per process.
_COUNT_HOLE = "scancount" + secrets.token_hex(8)
_CSRF_HOLE = "csrftoken" + secrets.token_hex(8)


def scan_view(record: bool = True, message: dict[str, str] | None = None,
              status: int = 200) -> tuple[str, int]:
    """Verify the scanned label, record the scan (anonymous, coarse city) and render the page.

    The page is rendered with placeholders for the scan count and the CSRF token, filled
    in per request, and kept per process under everything else it shows (the URL, the
    language, the log state, the verdict, the first scan, the badges' computations).
    """
    caches = page_caches()
    uri = label_uri().split("#", 1)[0]
    count: int | None = None
    # The scans are counted on the primary (a replica's count would lag), the summary read
    # first in this connection's transaction (ScanBuffer.count).
    with caches.engine.connect() as connection:  # lighter than the request's ORM session
        if caches.read_engine is caches.engine:  # no replica: one connection for both
            log = verdict.log_state(connection)
            connection.rollback()  # the scans are read in a fresh snapshot
            result = _verdict(uri, log)
        else:
            result = _verdict(uri)
        if result.item is not None and result.subject:
            scan = None
            if record:
                scan = (now(), request.headers.get(current_app.config["GEO_CITY_HEADER"]))
            # The count and the suspicion include this scan.
            summary = caches.scans.count(connection, result.subject, scan)
            if summary is not None:
                count = summary.count
                summary.count = _Count(count)
            verdict.conclude(result, summary)  # stage (6): suspicion from the scans
    item = result.item or {}
    producer, producer_key = _cached_badge((result.product or {}).get("producer"), result.log)
    shop, shop_key = _cached_badge(item.get("lister"), result.log)
    key = None
    if message is None:
        summary = result.summary
        shown = result.history.tree_size if result.history is not None else None
        key = (uri, request.full_path, g.get("lang"), result.state, shown, result.outcome,
               result.code,
               result.detail, summary is None,
               summary and (summary.first_at.date(), summary.first_city),
               producer_key, shop_key)
    html = caches.pages.get(key) if key is not None else None
    if html is None:
        html = render_template(
            "scan.html", v=result, uri=uri, item=item, batch=result.batch or {},
            product=result.product or {}, message=message, producer=producer, shop=shop,
            events=timeline(result), gettext=_request_gettext(), csrf_token=lambda: _CSRF_HOLE)
        if key is not None:
            caches.pages.put(key, html)
    if count is not None:
        html = html.replace(_COUNT_HOLE, str(count))
    return html.replace(_CSRF_HOLE, generate_csrf()), status


def _request_gettext() -> Any:
    """Return the templates' ``_`` bound to this request's translations.

    The same function as the one Flask-Babel installs (Jinja's "newstyle" gettext: escaped
    under autoescape, ``%(name)s`` variables), except that the catalogue is looked up once
    per page instead of once per string (the scan page translates about 60 strings).
    """
    catalogue = get_translations()

    @pass_context
    def gettext(context: Context, string: str, **variables: Any) -> str:
        text: str = catalogue.ugettext(string)
        if context.eval_ctx.autoescape:
            text = Markup(text)
        return text % variables

    return gettext


def timeline(result: verdict.Verdict) -> list[dict[str, Any]]:
    """Return the journey as display rows, oldest first, corrections marked."""
    if result.history is None:
        return []
    key = (result.subject or "", result.history.tree_size, result.history.root)
    cache = page_caches().timelines
    rows = cache.get(key)
    if rows is None:
        rows = _timeline_rows(result.history)
        cache.put(key, rows)
    return rows


def _timeline_rows(history: Any) -> list[dict[str, Any]]:
    rows = []
    for event in history.events:
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
