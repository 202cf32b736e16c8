"""Consoles for producers and inspectors: login, products, print runs, verification, lists.

Console pages authenticate with a login session cookie (never the API's bearer
tokens, and the API never accepts this cookie); every form carries a CSRF token.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

from flask import (Blueprint, Response, abort, current_app, flash, g, jsonify, redirect,
                   render_template, request, send_file, session, url_for)
from sqlalchemy import or_, select
from werkzeug.wrappers import Response as WerkzeugResponse  # what redirect() returns

from credit import disclosure, lists
from credit import errors as credit_errors
from credit.models import Complaint, ListEntry
from ledger import store
from ledger.actor import Actor
from ledger.audit import audit
from ledger.errors import AuditError, DomainError
from ledger.verify import verify_subject
from trace import print_runs, scans
from trace.identifiers import batch_subject, item_subject
from trace.identifiers import gtin as normalise_gtin
from trace.models import Batch, Product, TraceEvent
from web import printing
from web.auth import login as check_login
from web.db import get_session
from web.glue import log_keys, now, origin, writing
from web.ratelimit import limit

__all__ = ["bp"]

bp = Blueprint("console", __name__, url_prefix="/console")
F = TypeVar("F", bound=Callable[..., Any])


def console_actor() -> Actor | None:
    """Return the logged-in console actor, if any."""
    data = session.get("actor")
    return Actor(data["id"], data["role"]) if data else None


def requires(*roles: str) -> Callable[[F], F]:
    """Let a console page run only for a logged-in actor with one of ``roles`` (or admin)."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            actor = console_actor()
            if actor is None:
                return redirect(url_for("console.login", next=request.path))
            if actor.role not in roles and actor.role != "admin":
                abort(403)
            g.console_actor = actor
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorate


@bp.route("/login", methods=["GET", "POST"])
@limit("console-login", per_minute=10)
def login() -> WerkzeugResponse | tuple[str, int]:
    """Log in with a console account."""
    error = None
    if request.method == "POST":
        actor = check_login(get_session(), request.form.get("username", ""),
                            request.form.get("password", ""))
        if actor is None:
            error = "bad_login"
        else:
            session.clear()
            session["actor"] = {"id": actor.id, "role": actor.role}
            target = request.args.get("next", "")
            if not target.startswith("/console/"):
                target = url_for("console.inspector" if actor.role == "inspector"
                                 else "console.producer")
            return redirect(target)
    return render_template("console/login.html", error=error), 401 if error else 200


@bp.post("/logout")
def logout() -> WerkzeugResponse:
    """Log out."""
    session.clear()
    return redirect(url_for("console.login"))


# --- producer --------------------------------------------------------------------------------

_RUNNING: dict[str, int] = {}  # run id -> labels rendered so far, in this process


def _run_path(run_id: str, fmt: str) -> Path:
    folder = Path(current_app.instance_path) / "print-runs"
    folder.mkdir(exist_ok=True)
    return folder / f"{run_id}.{fmt.replace('-', '.')}"


@bp.get("/producer")
@requires("producer")
def producer() -> str:
    """Products, batches, print runs, recent events and the producer's credit file."""
    actor, db = g.console_actor, get_session()
    products = list(db.scalars(select(Product).where(Product.producer == actor.id)))
    batches = list(db.scalars(select(Batch).where(Batch.producer == actor.id)
                              .order_by(Batch.production_date.desc()).limit(50)))
    events = list(db.scalars(select(TraceEvent).where(TraceEvent.actor == actor.id)
                             .order_by(TraceEvent.idx.desc()).limit(30)))
    try:
        credit_file = disclosure.disclose(db, now=now(), subject_id=actor.id)
    except credit_errors.NotFound:
        credit_file = None
    runs = print_runs.runs_of(db, actor.id)
    return render_template("console/producer.html", products=products, batches=batches,
                           events=events, credit=credit_file, runs=runs, running=_RUNNING)


@bp.post("/producer/print-runs")
@requires("producer")
def start_print_run() -> WerkzeugResponse:
    """Reserve serials (ledger written now) and render the labels in the background."""
    fmt = request.form.get("format", "pdf")
    try:
        count = int(request.form.get("count", "0"))
        if fmt not in ("pdf", "zpl", "png-zip", "svg-zip") or not 1 <= count <= 100_000:
            raise ValueError
        run = printing.reserve(g.console_actor, request.form.get("gtin", ""),
                               request.form.get("lot", ""), count)
    except ValueError:
        flash("bad_print_request")
        return redirect(url_for("console.producer"))
    except DomainError as exc:
        flash(f"{exc.code}: {exc.detail}")
        return redirect(url_for("console.producer"))
    app, run_id, path = current_app._get_current_object(), run.id, _run_path(run.id, fmt)  # type: ignore[attr-defined]
    _RUNNING[run_id] = 0

    def work() -> None:
        with app.app_context():
            target = print_runs.get_run(get_session(), run_id)

            def progress(done: int) -> None:
                _RUNNING[run_id] = done

            try:
                printing.render_to_file(target, path, fmt, progress)
            finally:
                _RUNNING.pop(run_id, None)

    threading.Thread(target=work, name=f"print-run-{run_id}", daemon=True).start()
    return redirect(url_for("console.producer") + f"#run-{run_id}")


@bp.get("/producer/print-runs/<run_id>/progress")
@requires("producer")
def print_run_progress(run_id: str) -> Response:
    """Return how far a run has rendered (JSON for the page's progress bar)."""
    run = print_runs.get_run(get_session(), run_id)
    if run.producer != g.console_actor.id and g.console_actor.role != "admin":
        abort(403)
    finished = run.rendered_at is not None  # the file is complete and renamed into place
    done = run.count if finished else _RUNNING.get(run_id)
    return jsonify(done=done, count=run.count, finished=finished)


@bp.get("/producer/print-runs/<run_id>/file")
@requires("producer")
def print_run_file(run_id: str) -> Response:
    """Download a rendered print run."""
    run = print_runs.get_run(get_session(), run_id)
    if run.producer != g.console_actor.id and g.console_actor.role != "admin":
        abort(403)
    if not run.rendered_format or not _run_path(run_id, run.rendered_format).exists():
        abort(404)
    return send_file(_run_path(run_id, run.rendered_format), as_attachment=True)


# --- inspector -------------------------------------------------------------------------------

_AUDITS: dict[str, Any] = {}


@bp.get("/inspector")
@requires("inspector")
def inspector() -> str:
    """Anomalies, overdue complaints, list proposals and the ledger's audit status."""
    db, when = get_session(), now()
    suspicious = [(s, scans.suspicion(s)) for s in db.scalars(
        select(scans.ScanSummary).order_by(scans.ScanSummary.count.desc()).limit(200))]
    risks = [(s, reasons) for s, reasons in suspicious if reasons][:30]
    recalled = list(db.scalars(select(Batch).where(or_(Batch.status == "recalled",
                                                       Batch.inspection_result == "fail"))))
    overdue = list(db.scalars(select(Complaint).where(
        Complaint.decided_at.is_(None),
        or_(Complaint.answer_due < when, Complaint.decision_due < when)).limit(50)))
    proposals = list(db.scalars(select(ListEntry).where(ListEntry.status == "proposed")))
    return render_template("console/inspector.html", risks=risks, recalled=recalled,
                           overdue=overdue, proposals=proposals, audit=_AUDITS.get("last"),
                           head=store.read_head(db), report=None)


@bp.post("/inspector/verify")
@requires("inspector")
def verify() -> str:
    """Verify an item's or a batch's chain, proofs and checkpoint consistency."""
    db = get_session()
    gtin, lot, serial = (request.form.get(k, "").strip() for k in ("gtin", "lot", "serial"))
    try:
        gtin14 = normalise_gtin(gtin)
        subject = item_subject(gtin14, lot, serial) if serial else batch_subject(gtin14, lot)
        report = verify_subject(db, subject, log_keys(), origin())
    except DomainError as exc:
        flash(f"{exc.code}: {exc.detail}")
        return inspector()
    return render_template("console/verify.html", report=report)


@bp.post("/inspector/audit")
@requires("inspector")
def run_audit() -> WerkzeugResponse:
    """Run the full ledger audit now and keep its result for the status panel."""
    db = get_session()
    try:
        result = audit(db, current_app.extensions["ledger_signer"].vkey)
        _AUDITS["last"] = {"ok": True, "at": now(), "size": result.size, "detail": ""}
    except AuditError as exc:
        _AUDITS["last"] = {"ok": False, "at": now(), "size": exc.index, "detail": exc.detail}
    return redirect(url_for("console.inspector") + "#audit")


@bp.post("/inspector/lists/<entry_id>")
@requires("inspector")
def decide(entry_id: str) -> WerkzeugResponse:
    """Approve or reject a red/black list proposal."""
    approved = request.form.get("decision") == "approve"
    note = (request.form.get("note") or "").strip()[:500] or ("approved" if approved else "rejected")
    try:
        with writing() as writer:
            lists.decide_list_entry(writer, g.console_actor, entry_id, approved, note, now=now())
    except DomainError as exc:
        flash(f"{exc.code}: {exc.detail}")
    return redirect(url_for("console.inspector") + "#lists")


