"""The app factory, configuration, problem+json errors, request ids and health probes."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from web import create_app
from web.config import load_config


def test_config_defaults_put_sqlite_and_secrets_in_the_instance_folder(tmp_path: Path) -> None:
    config = load_config(str(tmp_path), {}, None)
    assert config["DATABASE_URL"] == f"sqlite:///{tmp_path / 'trace.db'}"
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert config["SECRET_KEY"] == load_config(str(tmp_path), {}, None)["SECRET_KEY"]


def test_config_reads_environment_then_overrides(tmp_path: Path) -> None:
    env = {"DATABASE_URL": "postgresql+psycopg://db/x", "SQL_ECHO": "yes", "LOG_LEVEL": "debug"}
    config = load_config(str(tmp_path), env, {"LOG_LEVEL": "WARNING"})
    assert config["DATABASE_URL"] == "postgresql+psycopg://db/x"
    assert config["SQL_ECHO"] is True
    assert config["LOG_LEVEL"] == "WARNING"


def test_config_refuses_a_malformed_environment_value(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="SQL_ECHO"):
        load_config(str(tmp_path), {"SQL_ECHO": "maybe"}, None)
    for size in ("0", "-3", "many"):
        with pytest.raises(ValueError, match="DATABASE_POOL_SIZE"):
            load_config(str(tmp_path), {"DATABASE_POOL_SIZE": size}, None)


def test_the_pool_keeps_a_connection_per_thread(tmp_path: Path) -> None:
    app = create_app({"INSTANCE_PATH": str(tmp_path), "DATABASE_POOL_SIZE": 12})
    pool = app.extensions["engine"].pool
    assert (pool.size(), pool._max_overflow) == (12, 12)  # noqa: SLF001


def test_healthz_and_readyz(client: FlaskClient) -> None:
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json["database"] == "ok"


def test_readyz_reports_an_unreachable_database(tmp_path: Path) -> None:
    app = create_app({"INSTANCE_PATH": str(tmp_path / "i"), "TESTING": True,
                      "DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:9/none"})
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["code"] == "health.database_unreachable"


def test_unknown_api_url_is_problem_json_with_both_titles(client: FlaskClient) -> None:
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    body = response.json
    assert body["code"] == "http.not_found"
    assert body["title_zh"] == "未找到" and body["title_en"] == "Not found"
    assert body["status"] == 404 and body["request_id"] == response.headers["X-Request-ID"]


def test_wrong_method_is_a_405_problem(client: FlaskClient) -> None:
    response = client.post("/ledger/checkpoint")
    assert response.status_code == 405
    assert response.json["code"] == "http.method_not_allowed"
    assert "GET" in response.headers["Allow"]


def test_english_title_when_asked(app: Flask) -> None:
    from flask import g

    @app.before_request
    def _lang() -> None:
        g.lang = "en"

    body = app.test_client().get("/api/v1/none").json
    assert body["title"] == "Not found"


def test_unexpected_error_is_a_logged_500_without_stack_trace(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    @app.get("/api/v1/boom")
    def boom() -> str:
        raise KeyError("secret internals")

    logging.getLogger("web").propagate = True
    with caplog.at_level(logging.ERROR, logger="web"):
        response = app.test_client().get("/api/v1/boom", headers={"X-Request-ID": "req-12345678"})
    assert response.status_code == 500
    assert response.json["code"] == "internal"
    assert response.json["request_id"] == "req-12345678"
    assert "secret internals" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
    assert any("req-12345678" in r.getMessage() and r.exc_info for r in caplog.records)


def test_a_malformed_request_id_is_replaced(client: FlaskClient) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "bad id; <script>"})
    assert response.headers["X-Request-ID"] != "bad id; <script>"
    assert len(response.headers["X-Request-ID"]) == 32


def test_security_headers_are_set(client: FlaskClient) -> None:
    headers = client.get("/healthz").headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
