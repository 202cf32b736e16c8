"""Labels API: print runs (reserve + render), scratch-off PIN checks, label verification."""

from __future__ import annotations

import tempfile

from flask import Response, jsonify, request

from labels.runs import RUN_WRITERS
from trace import pins, print_runs
from trace.identifiers import item_subject
from trace.identifiers import gtin as normalise_gtin
from web import printing
from web.api.spec import operation
from web.auth import current_actor
from web.db import get_session
from web.errors import ForbiddenError
from web.glue import master_key, now, to_json
from web.ratelimit import limit

__all__: list[str] = []

_MEDIA = {"pdf": "application/pdf", "zpl": "text/plain", "png-zip": "application/zip",
          "svg-zip": "application/zip"}
_SUFFIX = {"pdf": "pdf", "zpl": "zpl", "png-zip": "zip", "svg-zip": "zip"}
RUN_BODY = {
    "type": "object", "additionalProperties": False, "required": ["gtin", "lot", "count"],
    "properties": {"gtin": {"type": "string", "minLength": 1, "maxLength": 20},
                   "lot": {"type": "string", "minLength": 1, "maxLength": 20},
                   "count": {"type": "integer", "minimum": 1, "maximum": 100_000}},
}
PIN_BODY = {
    "type": "object", "additionalProperties": False, "required": ["gtin", "lot", "serial", "pin"],
    "properties": {"gtin": {"type": "string", "minLength": 1, "maxLength": 20},
                   "lot": {"type": "string", "minLength": 1, "maxLength": 20},
                   "serial": {"type": "string", "minLength": 1, "maxLength": 20},
                   "pin": {"type": "string", "minLength": 1, "maxLength": 32}},
}


def _run_json(run: print_runs.PrintRun) -> dict[str, object]:
    serials = print_runs.serials_of(run)
    return {"id": run.id, "gtin": run.gtin, "lot": run.lot, "count": run.count,
            "first_serial": serials[0], "last_serial": serials[-1],
            "rendered_format": run.rendered_format,
            "downloads": {fmt: f"/api/v1/print-runs/{run.id}/labels?format={fmt}"
                          for fmt in RUN_WRITERS}}


@operation("/print-runs", "POST", tag="labels", roles=("producer",), body=RUN_BODY, status=201,
           summary="Reserve serials of a batch and record their production")
def create_print_run() -> tuple[Response, int]:
    """Reserve ``count`` serials (ledger entries written now); download the labels after."""
    body = request.get_json()
    run = printing.reserve(current_actor(), body["gtin"], body["lot"], body["count"])
    return jsonify(_run_json(run)), 201


@operation("/print-runs/<run_id>/labels", "GET", tag="labels", roles=("producer",),
           query={"format": {"type": "string", "enum": sorted(RUN_WRITERS)}},
           required_query=("format",), summary="Download a print run's signed labels")
def download_print_run(run_id: str) -> Response:
    """Render the run (always the same serials and signatures) as PDF, ZPL or a ZIP."""
    fmt = request.args["format"]
    if fmt not in RUN_WRITERS:
        raise ForbiddenError(f"unknown format {fmt[:20]!r}", code="request.invalid_parameter")
    run = print_runs.get_run(get_session(), run_id)
    actor = current_actor()
    if actor.role != "admin" and actor.id != run.producer:
        raise ForbiddenError("only the run's producer may download its labels",
                             code="auth.not_owner")
    with tempfile.TemporaryFile() as spool:  # up to 100,000 labels: ~50 MB of PDF
        printing.render(run, spool, fmt)
        spool.seek(0)
        data = spool.read()
    return Response(data, mimetype=_MEDIA[fmt], headers={
        "Content-Disposition": f'attachment; filename="labels-{run.id}.{_SUFFIX[fmt]}"'})


@operation("/pins/check", "POST", tag="labels", body=PIN_BODY,
           summary="Check an item's scratch-off code (防伪码)")
@limit("pin", per_minute=10)
def check_pin() -> Response:
    """Answer whether the code is right and whether it was used before (first use marks it)."""
    body = request.get_json()
    subject = item_subject(normalise_gtin(body["gtin"]), body["lot"], body["serial"])
    result = pins.check_pin(get_session(), subject, body["pin"], master_key(), now(),
                            request.remote_addr or "")
    return jsonify(to_json(result))
