"""``/ledger/``: the checkpoint, the verifier key, entries and proofs; read without authentication."""

from __future__ import annotations

import base64
import json
import re

from flask import Blueprint, Response, current_app, jsonify, request

from ledger import note, proof_bundle, store
from ledger.signer import LogSigner
from web.db import get_session
from web.errors import RequestError

__all__ = ["bp", "log_signer", "int_param"]

bp = Blueprint("ledger", __name__, url_prefix="/ledger")

_DECIMAL = re.compile(r"^(0|[1-9][0-9]{0,17})$")  # no sign, no spaces, no leading zeros


def log_signer() -> LogSigner:
    """Return the application's checkpoint signer (its key lives in the instance folder)."""
    signer: LogSigner = current_app.extensions["ledger_signer"]
    return signer


def int_param(name: str, value: str | None) -> int:
    """Parse a non-negative decimal parameter.

    :raises RequestError: when it is missing, signed, non-numeric or too large.
    """
    if value is None or value == "":
        raise RequestError(f"parameter {name!r} is required", code="request.missing_parameter")
    if not _DECIMAL.match(value):
        raise RequestError(
            f"parameter {name!r} must be a non-negative decimal integer, got {value[:40]!r}",
            code="request.invalid_parameter",
        )
    return int(value)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _text(body: str) -> Response:
    return Response(body, mimetype="text/plain", headers={"Cache-Control": "no-cache"})


@bp.get("/checkpoint")
def checkpoint() -> Response:
    """Return the latest signed checkpoint (C2SP signed note)."""
    return _text(store.latest_checkpoint(get_session()))


@bp.get("/key")
def key() -> Response:
    """Return the log's verifier key string."""
    return _text(log_signer().vkey + "\n")


@bp.get("/entries/<index>")
def entry(index: str) -> Response:
    """Return one entry: its exact bytes, leaf hash and decoded JSON."""
    i = int_param("index", index)
    session = get_session()
    size = store.read_head(session).size
    if i >= size:
        raise RequestError(f"index {i} is beyond the log's size {size}",
                           code="ledger.index_out_of_range")
    row = store.get_entry(session, i)
    response = jsonify(index=i, entry=_b64(row.data), leaf_hash=_b64(row.leaf_hash),
                       decoded=json.loads(row.data))
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response


@bp.get("/proof/inclusion")
def inclusion() -> Response:
    """Return the inclusion path of ``index`` in the tree of ``size``."""
    index = int_param("index", request.args.get("index"))
    size = int_param("size", request.args.get("size"))
    path = store.inclusion_proof(get_session(), index, size)
    return jsonify(index=index, size=size, path=[_b64(p) for p in path])


@bp.get("/proof/consistency")
def consistency() -> Response:
    """Return the consistency path between tree sizes ``first`` and ``second``."""
    first = int_param("first", request.args.get("first"))
    second = int_param("second", request.args.get("second"))
    path = store.consistency_proof(get_session(), first, second)
    return jsonify(first=first, second=second, path=[_b64(p) for p in path])


@bp.get("/proof/bundle/<index>")
def bundle(index: str) -> Response:
    """Return an offline proof (C2SP tlog-proof) of ``index`` against the latest checkpoint."""
    i = int_param("index", index)
    session = get_session()
    signed = store.latest_checkpoint(session)
    size = note.parse_checkpoint(signed.split("\n\n", 1)[0] + "\n").size
    if i >= size:
        raise RequestError(f"index {i} is beyond the checkpoint's size {size}",
                           code="ledger.index_out_of_range")
    path = store.inclusion_proof(session, i, size)
    return _text(proof_bundle.format_proof_bundle(i, path, signed))
