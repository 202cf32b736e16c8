"""Credit API: registration, listing eligibility, badges and the public query window."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Any

from flask import Response, jsonify, request

from credit import disclosure, eligibility, services
from credit.pii import RealName
from sqlalchemy import select

from trace import queries
from trace.errors import NotFound as ProductNotFound
from trace.models import Batch
from trace.identifiers import gtin as normalise_gtin
from web.api.spec import operation
from web.auth import current_actor
from web.db import get_session
from web.glue import master_key, now, to_json, writing

__all__: list[str] = []

_REAL_NAME = {
    "type": "object", "additionalProperties": False, "required": ["name", "id_number"],
    "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 100},
                   "id_number": {"type": "string", "minLength": 1, "maxLength": 40},
                   "id_type": {"type": "string", "maxLength": 40},
                   "phone": {"type": "string", "maxLength": 40}},
}
SUBJECT_BODY = {
    "type": "object", "additionalProperties": False, "required": ["kind", "name"],
    "properties": {
        "kind": {"type": "string", "maxLength": 40},
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "uscc": {"type": "string", "maxLength": 40},
        "real_name": _REAL_NAME,
        "attest": {"type": "boolean"},
    },
}
ELIGIBILITY_BODY = {
    "type": "object", "additionalProperties": False, "required": ["merchant", "gtin"],
    "properties": {"merchant": {"type": "string", "minLength": 1, "maxLength": 200},
                   "gtin": {"type": "string", "minLength": 1, "maxLength": 20},
                   "lot": {"type": "string", "minLength": 1, "maxLength": 20}},
}


def _subject_json(subject: Any) -> dict[str, Any]:
    return {"id": subject.id, "kind": subject.kind, "name": subject.name,
            "uscc": subject.uscc, "status": subject.status,
            "uscc_problem": subject.uscc_problem}


@operation("/subjects", "POST", summary="Register a credit subject (统一社会信用代码 or real name)",
           tag="credit", roles=("admin", "platform", "inspector"), body=SUBJECT_BODY, status=201)
def register_subject() -> tuple[Response, int]:
    """Register a platform, merchant, seller, producer, logistics firm, courier, ..."""
    body = request.get_json()
    real = RealName(**body["real_name"]) if "real_name" in body else None
    with writing() as writer:
        subject = services.register_subject(
            writer, current_actor(), body["kind"], body["name"], uscc=body.get("uscc"),
            real_name=real, attest=body.get("attest", False), now=now(),
            master_key=master_key().encode())
    return jsonify(_subject_json(subject)), 201


def product_facts(gtin: str, lot: str | None, at: date) -> eligibility.ProductFacts:
    """Gather from trace what eligibility needs to know about a product (and batch).

    :raises NotFound: (trace) when no product has this GTIN.
    """
    session = get_session()
    gtin14 = normalise_gtin(gtin)
    product = queries.find_product(session, gtin14)
    if product is None:
        raise ProductNotFound(f"no product {gtin14}")
    batch = queries.find_batch(session, gtin14, lot) if lot else None
    if batch is not None:
        batches = [batch]
    else:
        rows = session.execute(select(Batch.status, Batch.inspection_result)
                               .where(Batch.gtin == gtin14)).mappings()
        batches = [dict(r) for r in rows]
    return eligibility.ProductFacts(
        category=product["category"],
        has_production=bool(batches),
        has_inspection=any(b.get("inspection_result") == "pass" for b in batches),
        batch_recalled=bool(batch and batch["status"] == "recalled"),
        batch_expired=bool(batch and batch["expiry_date"] and batch["expiry_date"] < at),
    )


@operation("/eligibility", "POST", summary="May this merchant list this product?",
           tag="credit", roles=("platform", "merchant", "inspector"), body=ELIGIBILITY_BODY)
def check_eligibility() -> Response:
    """Answer eligible or not, with every reason as a stable code and zh/en messages."""
    body = request.get_json()
    when = now()
    facts = product_facts(body["gtin"], body.get("lot"), when.date())
    answer = eligibility.check_eligibility(get_session(), body["merchant"], facts, when)
    return jsonify(eligible=answer.eligible, reasons=[asdict(r) for r in answer.reasons])


@operation("/subjects/<subject_id>/badge", "GET", summary="A shop's credit badge",
           tag="credit")
def subject_badge(subject_id: str) -> Response:
    """Return the badge as JSON, or as embeddable SVG with ``?format=svg``."""
    data = disclosure.badge(get_session(), subject_id, now())
    if request.args.get("format") == "svg":
        return Response(disclosure.render_badge_svg(data), mimetype="image/svg+xml",
                        headers={"Cache-Control": "public, max-age=300"})
    return jsonify(to_json(data))


@operation("/disclosure", "GET", summary="Public credit query by subject id or USCC",
           tag="credit", query={"subject": {"type": "string", "maxLength": 200},
                                "uscc": {"type": "string", "maxLength": 40}})
def public_query() -> Response:
    """Answer the public query window, citing the ledger checkpoint it was computed at."""
    answer = disclosure.disclose(get_session(), now=now(),
                                 subject_id=request.args.get("subject") or None,
                                 uscc=request.args.get("uscc") or None)
    return jsonify(to_json(answer))
