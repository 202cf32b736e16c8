"""Bearer tokens: stored hashed, revocable, role-checked; the CLI issues them."""

from __future__ import annotations

import hashlib

import pytest
from flask import Flask, jsonify
from flask.testing import FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.actor import Actor
from web.auth import ApiToken, current_actor, issue_token, require_roles, revoke_tokens


@pytest.fixture
def guarded(app: Flask) -> Flask:
    @app.post("/api/v1/_test/courier-only")
    @require_roles("courier")
    def courier_only():  # type: ignore[no-untyped-def]
        actor = current_actor()
        return jsonify(actor=actor.id, role=actor.role)

    return app


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_token_is_stored_only_as_its_hash(db_session: Session) -> None:
    token = issue_token(db_session, Actor("subject:c1", "courier"))
    db_session.commit()
    row = db_session.scalars(select(ApiToken)).one()
    assert row.token_hash == hashlib.sha256(token.encode()).digest()
    assert token.encode() not in row.token_hash and row.actor_id == "subject:c1"


def test_a_valid_token_of_the_right_role_passes(guarded: Flask, db_session: Session) -> None:
    token = issue_token(db_session, Actor("subject:c1", "courier"))
    db_session.commit()
    response = guarded.test_client().post("/api/v1/_test/courier-only", headers=_bearer(token))
    assert response.status_code == 200
    assert response.json == {"actor": "subject:c1", "role": "courier"}


@pytest.mark.parametrize("header,code", [
    (None, "auth.required"),
    ("Basic abc", "auth.required"),
    ("Bearer tt_not-a-real-token", "auth.invalid_token"),
    ("Bearer " + "tt_" + "x" * 200, "auth.required"),
])
def test_missing_or_unknown_tokens_are_401(guarded: Flask, header: str | None, code: str) -> None:
    headers = {"Authorization": header} if header else {}
    response = guarded.test_client().post("/api/v1/_test/courier-only", headers=headers)
    assert response.status_code == 401
    assert response.json["code"] == code


def test_wrong_role_is_403_and_admin_may_do_anything(guarded: Flask, db_session: Session) -> None:
    merchant = issue_token(db_session, Actor("subject:m1", "merchant"))
    admin = issue_token(db_session, Actor("operator:root", "admin"))
    db_session.commit()
    client = guarded.test_client()
    refused = client.post("/api/v1/_test/courier-only", headers=_bearer(merchant))
    assert refused.status_code == 403 and refused.json["code"] == "auth.forbidden_role"
    assert client.post("/api/v1/_test/courier-only", headers=_bearer(admin)).status_code == 200


def test_a_revoked_token_is_refused(guarded: Flask, db_session: Session) -> None:
    token = issue_token(db_session, Actor("subject:c1", "courier"))
    db_session.commit()
    assert revoke_tokens(db_session, "subject:c1") == 1
    db_session.commit()
    response = guarded.test_client().post("/api/v1/_test/courier-only", headers=_bearer(token))
    assert response.status_code == 401 and response.json["code"] == "auth.invalid_token"


def test_cli_issues_a_working_token(guarded: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["tokens", "issue", "--actor", "subject:c9", "--role", "courier"])
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    response = guarded.test_client().post("/api/v1/_test/courier-only", headers=_bearer(token))
    assert response.json["actor"] == "subject:c9"


def test_cli_refuses_an_unknown_role(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["tokens", "issue", "--actor", "x", "--role", "wizard"])
    assert result.exit_code != 0 and "wizard" in result.output
