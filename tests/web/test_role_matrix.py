"""Who may write: every write operation of the OpenAPI document against every role.

The operations are discovered from what ``web.api.spec.operation()`` registered (the
source of ``/api/v1/openapi.json``), so a new endpoint joins the matrix by itself.  A
role the operation does not declare (admin always may) gets 403 ``auth.forbidden_role``
and no token gets 401 ``auth.required``; either way the ledger does not grow.  A
declared role is never refused for its role (it may still get 400, 404 or 409 for the
body or the object).  Then ownership: a producer may not act on another producer's
product or print run.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import URL, select

from credit.models import Complaint, FundClaim, Licence, ListEntry, Rating, Record, Repair, Subject
from ledger import store
from ledger.actor import Actor
from tests.conftest import empty_tables, make_app
from trace.print_runs import PrintRun
from web import api
from web.api.spec import _OPERATIONS
from web.auth import issue_token
from web.demo import GTIN, LOT

WRITE_METHODS = ("post", "put", "patch", "delete")
# Every role a token can carry ("system" is the server's own actor, never a token's).
ROLES = ("admin", "producer", "platform", "merchant", "logistics", "courier", "inspector",
         "consumer")
AUTH_REFUSALS = ("auth.required", "auth.invalid_token", "auth.forbidden_role")
_TOKEN_LINE = re.compile(r"^(\w+) (tt_\S+)$")
_NO_SUCH_ID = "0" * 16


def _write_operations() -> list[dict[str, Any]]:
    """Return the write operations, as the app registers them (``web.api.init_app``)."""
    api.init_app(Flask(__name__))  # imports the view modules; a throwaway app gets the routes
    return sorted((op for op in _OPERATIONS if op["method"] in WRITE_METHODS),
                  key=lambda op: (op["path"], op["method"]))


WRITES = _write_operations()
CASES = [pytest.param(op, role, id=f"{op['method'].upper()} {op['path']}-{role or 'no token'}")
         for op in WRITES for role in (*ROLES, None)]


@dataclass
class World:
    app: Flask
    client: FlaskClient
    tokens: dict[str, str]  # role -> token; "other_producer" owns nothing of the demo's
    ids: dict[str, str]  # path parameter name -> an id of the demo world
    run_id: str  # the demo producer's print run

    def ledger_size(self) -> int:
        session = self.app.extensions["sessionmaker"]()
        try:
            return store.read_head(session).size
        finally:
            session.close()

    def send(self, method: str, path: str, token: str | None, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.client.open(path, method=method.upper(), json=body, headers=headers)


def _demo_ids(app: Flask) -> tuple[dict[str, str], str]:
    session = app.extensions["sessionmaker"]()
    try:
        def first(model: Any, *where: Any) -> str:
            return session.scalars(select(model.id).where(*where)).first() or _NO_SUCH_ID

        run_id = session.scalars(select(PrintRun.id)).one()
        ids = {
            "subject_id": first(Subject, Subject.kind == "merchant"),
            "platform_id": first(Subject, Subject.kind == "platform"),
            "licence_id": first(Licence), "record_id": first(Record), "repair_id": first(Repair),
            "rating_id": first(Rating), "entry_id": first(ListEntry),
            "complaint_id": first(Complaint), "claim_id": first(FundClaim), "run_id": run_id,
            "gtin": GTIN, "lot": LOT, "serial": "0000000004",
        }
        return ids, run_id
    finally:
        session.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, postgres_url: URL | None) -> Iterator[World]:
    """The demo world, a token per role, a consumer and a second producer."""
    app = make_app(tmp_path_factory.mktemp("roles"), postgres_url)
    loaded = app.test_cli_runner().invoke(args=["demo", "load"])
    assert loaded.exit_code == 0, loaded.output
    tokens = {m[1]: m[2] for m in map(_TOKEN_LINE.match, loaded.output.splitlines()) if m}
    session = app.extensions["sessionmaker"]()
    tokens["consumer"] = issue_token(session, Actor("consumer:role-matrix", "consumer"))
    tokens["other_producer"] = issue_token(session, Actor("subject:other-producer", "producer"))
    session.commit()
    session.close()
    assert set(ROLES) <= set(tokens), loaded.output
    ids, run_id = _demo_ids(app)
    yield World(app, app.test_client(), tokens, ids, run_id)
    if postgres_url is not None:
        empty_tables(app)
    app.extensions["engine"].dispose()


def _url(op: dict[str, Any], ids: dict[str, str]) -> str:
    path = op["path"]
    for name in op["path_params"]:
        path = path.replace("{" + name + "}", ids.get(name, _NO_SUCH_ID))
    return path


def test_the_served_document_lists_every_write_route_and_its_roles(world: World) -> None:
    served = world.client.get("/api/v1/openapi.json").json["paths"]
    documented = {(m, p) for p, ops in served.items() for m in ops if m in WRITE_METHODS}
    assert documented == {(op["method"], op["path"]) for op in WRITES}
    # No write route under /api/v1 bypasses operation() (and so its role check).
    routed = {(m.lower(), re.sub(r"<(?:[a-z]+:)?(\w+)>", r"{\1}", rule.rule))
              for rule in world.app.url_map.iter_rules() if rule.rule.startswith("/api/v1/")
              for m in rule.methods or () if m.lower() in WRITE_METHODS}
    assert routed == documented
    for op in WRITES:
        description = served[op["path"]][op["method"]]["description"]
        if op["roles"]:
            assert f"Roles: {', '.join(op['roles'])} (admin may too)." in description
        else:
            assert "Roles:" not in description


@pytest.mark.parametrize("op,role", CASES)
def test_only_declared_roles_pass_the_role_check(world: World, op: dict[str, Any],
                                                 role: str | None) -> None:
    declared = not op["roles"] or role == "admin" or role in op["roles"]
    allowed = declared and (role is not None or not op["roles"])
    before = world.ledger_size()
    body = {} if op["body"] else None  # the role is checked before the body is read
    response = world.send(op["method"], _url(op, world.ids), world.tokens.get(role or ""), body)
    status, problem = response.status_code, response.json or {}
    assert status < 500, response.get_data(as_text=True)
    if allowed:
        assert status != 401 and problem.get("code") not in AUTH_REFUSALS, problem
        return
    assert response.mimetype == "application/problem+json"
    if role is None:
        assert (status, problem["code"]) == (401, "auth.required"), problem
    else:
        assert (status, problem["code"]) == (403, "auth.forbidden_role"), problem
    assert world.ledger_size() == before


OTHERS_PRODUCT = [
    pytest.param("/api/v1/events", {"kind": "inspection", "gtin": GTIN, "lot": LOT,
                                    "result": "fail", "report_no": "X-1",
                                    "inspecting_body": "其他检验所"}, id="events-inspection"),
    pytest.param("/api/v1/events", {"kind": "recall", "gtin": GTIN, "lot": LOT,
                                    "reason": "not mine to recall"}, id="events-recall"),
    pytest.param("/api/v1/events", {"kind": "production", "gtin": GTIN, "lot": "OTHER1",
                                    "production_date": "2026-01-01"}, id="events-production"),
    pytest.param("/api/v1/batches", {"gtin": GTIN, "lot": "OTHER2",
                                     "production_date": "2026-01-01"}, id="batches"),
    pytest.param("/api/v1/serials", {"gtin": GTIN, "lot": LOT, "serials": ["X9"]},
                 id="serials"),
    pytest.param("/api/v1/print-runs", {"gtin": GTIN, "lot": LOT, "count": 1}, id="print-runs"),
]


@pytest.mark.parametrize("path,body", OTHERS_PRODUCT)
def test_a_producer_cannot_record_events_of_another_producers_product(
    world: World, path: str, body: dict[str, Any]
) -> None:
    before = world.ledger_size()
    response = world.send("post", path, world.tokens["other_producer"], body)
    assert response.status_code == 403, response.get_data(as_text=True)
    assert (response.json["code"], response.json["reason"]) == (
        "trace.forbidden_role", "trace.forbidden.not_producer")
    assert world.ledger_size() == before


def test_a_producer_cannot_register_a_product_for_another_producer(world: World) -> None:
    before = world.ledger_size()
    response = world.send("post", "/api/v1/products", world.tokens["other_producer"],
                          {"gtin": "06901234567885", "name": "冒名产品", "category": "food",
                           "producer": world.ids["subject_id"]})
    assert response.status_code == 403, response.get_data(as_text=True)
    assert response.json["code"] == "trace.forbidden_role"
    assert world.ledger_size() == before


@pytest.mark.parametrize("holder,status", [("other_producer", 403), ("producer", 200),
                                           ("admin", 200)])
def test_only_the_runs_producer_downloads_its_labels(world: World, holder: str,
                                                     status: int) -> None:
    response = world.send("get", f"/api/v1/print-runs/{world.run_id}/labels?format=zpl",
                          world.tokens[holder])
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    if status == 403:
        assert response.json["code"] == "auth.not_owner"
