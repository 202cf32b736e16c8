"""Alembic migrations create exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import create_engine, inspect

from web import migrate
from web.models import metadata


def _diff(engine) -> list:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn), metadata)


def test_migrations_and_models_agree(app: Flask, tmp_path: Path) -> None:
    engine = app.extensions["engine"]
    if engine.dialect.name == "sqlite":
        # The app fixture used create_all; migrate a fresh file instead.
        engine = create_engine(f"sqlite:///{tmp_path / 'migrated.db'}")
        migrate.upgrade(engine)
    assert _diff(engine) == []
    assert set(inspect(engine).get_table_names()) >= set(metadata.tables)


def test_flask_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    from tests.conftest import make_app

    app = make_app(tmp_path, None, DATABASE_URL=f"sqlite:///{tmp_path / 'cli.db'}")
    engine = app.extensions["engine"]
    for table in reversed(metadata.sorted_tables):
        table.drop(engine)
    runner: FlaskCliRunner = app.test_cli_runner()
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert _diff(engine) == []
