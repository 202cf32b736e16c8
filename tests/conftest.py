"""Fixtures: ``app``, ``client``, ``runner``, ``db_session``.

Without ``TEST_POSTGRES_URL`` every test gets its own SQLite file.  With it, the run
creates a PostgreSQL database of its own, migrates it once, empties its tables after
each test and drops it at the end: no other data on that server is touched.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import URL, create_engine, make_url, text
from sqlalchemy.orm import Session

from web import create_app
from web.models import metadata

ORIGIN = "test.trace.local/log"


def pytest_report_header() -> str:
    url = os.environ.get("TEST_POSTGRES_URL")
    return f"database: {'PostgreSQL ' + url if url else 'SQLite (a file per test)'}"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[URL | None]:
    """Create this run's PostgreSQL database (migrated), or None on the SQLite run."""
    admin_url = os.environ.get("TEST_POSTGRES_URL")
    if not admin_url:
        yield None
        return
    from web import migrate

    name = f"trace_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name)
    engine = create_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def make_app(tmp_path: Path, postgres_url: URL | None, **overrides: object) -> Flask:
    """Create an app on a fresh database (SQLite) or this run's emptied PostgreSQL database."""
    url = (postgres_url.render_as_string(hide_password=False) if postgres_url
           else f"sqlite:///{tmp_path / 'test.db'}")
    config = {
        "TESTING": True,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "DATABASE_URL": url,
        "LEDGER_ORIGIN": ORIGIN,
        "PUBLIC_BASE_URL": "https://t.example.cn",
        "WTF_CSRF_ENABLED": False,
    }
    config.update(overrides)
    app = create_app(config)
    if postgres_url is None:
        metadata.create_all(app.extensions["engine"])
    return app


def empty_tables(app: Flask) -> None:
    """Delete every row of every table (PostgreSQL run, after a test)."""
    engine = app.extensions["engine"]
    with engine.begin() as conn:
        names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture
def app(tmp_path: Path, postgres_url: URL | None) -> Iterator[Flask]:
    """An application on an empty database, with its own instance folder."""
    application = make_app(tmp_path, postgres_url)
    yield application
    if postgres_url is not None:
        empty_tables(application)
    application.extensions["engine"].dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def db_session(app: Flask) -> Iterator[Session]:
    """A session on the app's database (services commit through it)."""
    session: Session = app.extensions["sessionmaker"]()
    yield session
    session.close()


@pytest.fixture
def signer(app: Flask):  # type: ignore[no-untyped-def]
    """The app's ledger checkpoint signer."""
    return app.extensions["ledger_signer"]
