"""Alembic environment: migrates the database of the app (or URL) it is given."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.exc import ArgumentError

from web.models import metadata

config = context.config


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=metadata,
                          render_as_batch=connection.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.get_main_option("sqlalchemy.url")
    if url is None:  # the error create_engine(None) raises, naming what is missing
        raise ArgumentError("no connection given and no sqlalchemy.url in the Alembic config")
    engine = create_engine(url)
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=metadata,
                          render_as_batch=conn.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
