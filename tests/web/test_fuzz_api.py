"""Fuzz every operation of ``/api/v1/openapi.json`` with schemathesis, in process.

The demo world is loaded once for the module.  Each operation is fuzzed with an admin
token (so every role-guarded operation runs its service) and without a token, from
valid (positive) and, where there is input to break, invalid (negative) data.  Path
parameters, query parameters and body fields are now and then swapped for the demo's
real ids, so that requests get past "not found" into the services and write.

Every response must be below 500 (schemathesis ``not_a_server_error``), and every
error an RFC 9457 ``application/problem+json`` document with a ``code``.  Generation
is derandomised, so a failure reproduces; schemathesis reports it with a curl command.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from sqlalchemy import URL, select

from credit.models import Complaint, FundClaim, Licence, ListEntry, Rating, Record, Repair, Subject
from credit.rules import SUBJECT_KINDS
from tests.conftest import empty_tables, make_app
from trace.print_runs import PrintRun, serials_of
from trace.rules import RULES
from web import api
from web.api.spec import _OPERATIONS
from web.demo import DEMO_USCC, GTIN, LOT

EXAMPLES = 25  # per operation, auth mode and generation mode
REFUSED_EXAMPLES = 5  # without a token a role-guarded operation refuses before reading input
_TOKEN_LINE = re.compile(r"^(\w+) (tt_\S+)$")


def _operations() -> list[dict[str, Any]]:
    """Return every registered operation, as the app registers them (web.api.init_app)."""
    api.init_app(Flask(__name__))  # imports the view modules; a throwaway app gets the routes
    return sorted(_OPERATIONS, key=lambda op: (op["path"], op["method"]))


OPERATIONS = _operations()


@dataclass
class Demo:
    app: Flask
    schema: schemathesis.BaseSchema
    tokens: dict[str, str]
    known: dict[str, list[Any]]  # parameter or field name -> real values of the demo world


def _known_values(app: Flask) -> dict[str, list[Any]]:
    session = app.extensions["sessionmaker"]()
    try:
        def ids(model: Any) -> list[str]:
            return sorted(session.scalars(select(model.id))) or ["0" * 16]

        subjects = ids(Subject)
        runs = list(session.scalars(select(PrintRun)))
        serials = sorted({s for run in runs for s in serials_of(run)})
        return {
            "subject_id": subjects, "platform_id": subjects, "merchant": subjects,
            "ratee_id": subjects, "subject": subjects, "uscc": sorted(DEMO_USCC.values()),
            "gtin": [GTIN], "lot": [LOT], "serial": serials,
            "run_id": sorted(run.id for run in runs), "licence_id": ids(Licence),
            "record_id": ids(Record), "repair_id": ids(Repair), "rating_id": ids(Rating),
            "entry_id": ids(ListEntry), "complaint_id": ids(Complaint), "claim_id": ids(FundClaim),
            "kind": sorted(RULES) + list(SUBJECT_KINDS),
            "MATCH_epc": [f"https://t.example.cn/01/{GTIN}/10/{LOT}"]
                         + [f"https://t.example.cn/01/{GTIN}/10/{LOT}/21/{s}" for s in serials],
        }
    finally:
        session.close()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, postgres_url: URL | None) -> Iterator[Demo]:
    """The demo world on a database of this module, its tokens and the API's schema."""
    app = make_app(tmp_path_factory.mktemp("fuzz"), postgres_url)
    loaded = app.test_cli_runner().invoke(args=["demo", "load"])
    assert loaded.exit_code == 0, loaded.output
    tokens = {m[1]: m[2] for m in map(_TOKEN_LINE.match, loaded.output.splitlines()) if m}
    assert "admin" in tokens, loaded.output
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    yield Demo(app, schema, tokens, _known_values(app))
    if postgres_url is not None:
        empty_tables(app)
    app.extensions["engine"].dispose()


def problem_details(ctx: Any, response: schemathesis.Response, case: schemathesis.Case) -> None:
    """Check that an error response is an RFC 9457 problem naming a stable ``code``."""
    if response.status_code < 400:
        return
    media = response.headers.get("content-type", [""])[0].split(";")[0].strip()
    assert media == "application/problem+json", (
        f"{response.status_code} answered as {media!r}, not application/problem+json")
    body = json.loads(response.content)
    assert isinstance(body.get("code"), str) and body["code"], f"problem without a code: {body}"
    assert body.get("status") == response.status_code, f"status differs from the HTTP one: {body}"


def _plain(schema: dict[str, Any] | None, name: str) -> bool:
    """Tell whether a body property takes free values (a demo value will not break its enum)."""
    prop = ((schema or {}).get("properties") or {}).get(name)
    return prop is None or "enum" not in prop


def _plant(case: schemathesis.Case, op: dict[str, Any], known: dict[str, list[Any]],
           data: st.DataObject) -> None:
    """Replace, each with an even chance, generated values by real ones of the demo world."""
    for params in (case.path_parameters, case.query):
        for name in list(params or {}):
            if name in known and data.draw(st.booleans(), label=f"real {name}"):
                params[name] = data.draw(st.sampled_from(known[name]), label=name)
    body = case.body
    if not isinstance(body, dict) or op["body"] is None:  # a published_body: the view validates
        return
    for name in list(body):
        if name in known and _plain(op["body"], name) and data.draw(st.booleans(),
                                                                  label=f"real {name}"):
            body[name] = data.draw(st.sampled_from(known[name]), label=name)
    if op["body"].get("additionalProperties") is not False and data.draw(st.booleans(),
                                                                          label="add item"):
        # e.g. /events takes the item's identifiers beside the documented "kind"
        for name in ("gtin", "lot", "serial"):
            body.setdefault(name, data.draw(st.sampled_from(known[name]), label=name))


def _modes(op: dict[str, Any]) -> list[GenerationMode]:
    # Path parameters are plain strings: with no body and no query there is nothing to negate.
    if op["body"] or op["query"]:
        return [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    return [GenerationMode.POSITIVE]


@pytest.mark.parametrize("auth", ["admin", "anonymous"])
@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: f"{op['method'].upper()} {op['path']}")
def test_fuzzed_requests_get_no_server_error_and_errors_are_problems(
    demo: Demo, op: dict[str, Any], auth: str
) -> None:
    operation = demo.schema[op["path"]][op["method"].upper()]
    headers = {"Authorization": f"Bearer {demo.tokens['admin']}"} if auth == "admin" else {}
    examples = REFUSED_EXAMPLES if op["roles"] and not headers else EXAMPLES
    for mode in _modes(op):

        @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                  phases=[Phase.explicit, Phase.generate, Phase.shrink],
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                         HealthCheck.data_too_large])
        @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
        def fuzz(case: schemathesis.Case, data: st.DataObject) -> None:
            _plant(case, op, demo.known, data)
            # Send exactly this test's credentials, never a generated Authorization header.
            case.headers = {k: v for k, v in (case.headers or {}).items()
                            if k.lower() != "authorization"}
            case.call_and_validate(headers=headers,
                                   checks=[not_a_server_error, problem_details])

        fuzz()


def test_a_whole_float_for_an_integer_field_reaches_the_view_as_an_int(demo: Demo) -> None:
    # Found by the fuzz above: {"count": 3571.0} passes JSON Schema "integer" and was a
    # 500 (range() of a float in trace.print_runs.serials_of).
    client = demo.app.test_client()
    response = client.post("/api/v1/print-runs", json={"gtin": GTIN, "lot": LOT, "count": 2.0},
                           headers={"Authorization": f"Bearer {demo.tokens['producer']}"})
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.json["count"] == 2
    assert isinstance(response.json["count"], int)


@pytest.mark.parametrize("method,path,body,code", [
    ("GET", "/api/v1/subjects/a%00b/badge", None, "request.invalid_parameter"),
    ("GET", "/api/v1/disclosure?subject=a%00b", None, "request.invalid_parameter"),
    ("GET", "/api/v1/print-runs/a%00b/labels?format=pdf", None, "request.invalid_parameter"),
    ("POST", "/api/v1/claims", {"platform_id": "p", "complaint_id": "a\x00b"},
     "request.invalid_body"),
    ("POST", "/api/v1/events", {"kind": "inspection", "gtin\x00": GTIN}, "request.invalid_body"),
], ids=["path", "query", "path-with-roles", "body-value", "body-key"])
def test_a_nul_character_in_any_input_is_a_400_not_a_database_error(
    demo: Demo, method: str, path: str, body: Any, code: str
) -> None:
    # Found by the fuzz on PostgreSQL, whose text cannot hold U+0000: psycopg's
    # DataError was a 500 (e.g. POST /api/v1/claims {"complaint_id": "\u0000"}).
    response = demo.app.test_client().open(
        path, method=method, json=body,
        headers={"Authorization": f"Bearer {demo.tokens['admin']}"})
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.json["code"] == code


def test_a_query_value_its_published_schema_refuses_is_a_400(demo: Demo) -> None:
    # The document publishes format's enum; it was enforced only by the view, as a 403.
    run_id = demo.known["run_id"][0]
    response = demo.app.test_client().get(
        f"/api/v1/print-runs/{run_id}/labels?format=bogus",
        headers={"Authorization": f"Bearer {demo.tokens['producer']}"})
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.json["code"] == "request.invalid_parameter"
