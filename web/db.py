"""Database engine and the per-request session.

One engine per application; one ``Session`` per request, closed at teardown.
SQLite runs in WAL mode with foreign keys on, and transactions that ask for it
(``execution_options(sqlite_begin="IMMEDIATE")``) take the write lock at BEGIN,
which is how the ledger sequencer serialises appends on SQLite.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["init_app", "get_session", "get_read_session", "make_engine"]


def make_engine(url: str, *, echo: bool = False, pool_size: int = 5) -> Engine:
    """Create the engine for ``url`` with the settings this service relies on.

    ``pool_size`` connections stay open for reuse, and as many again may be opened
    for a burst (closed when returned).
    """
    pool = {"pool_size": pool_size, "max_overflow": pool_size}
    if url.startswith("sqlite"):
        memory = url in ("sqlite://", "sqlite:///:memory:")  # one shared connection: no pool
        engine = create_engine(url, echo=echo, connect_args={"timeout": 30},
                               **({} if memory else pool))
        _configure_sqlite(engine)
        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True, **pool)


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling is turned off so that we emit BEGIN
    # ourselves (the SQLAlchemy "Serializable isolation / Savepoints" recipe).
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def init_app(app: Flask) -> None:
    """Create the engines and session factories and close the sessions after each request.

    With ``DATABASE_REPLICA_URL`` set, :func:`get_read_session` reads from that replica
    (the scan page); everything else, and every write, goes to ``DATABASE_URL``.
    """
    echo, pool_size = app.config["SQL_ECHO"], app.config["DATABASE_POOL_SIZE"]
    engine = make_engine(app.config["DATABASE_URL"], echo=echo, pool_size=pool_size)
    app.extensions["engine"] = engine
    app.extensions["sessionmaker"] = sessionmaker(engine, expire_on_commit=False)
    replica_url = app.config.get("DATABASE_REPLICA_URL")
    replica = make_engine(replica_url, echo=echo, pool_size=pool_size) if replica_url else engine
    app.extensions["read_engine"] = replica
    app.extensions["read_sessionmaker"] = (
        sessionmaker(replica, expire_on_commit=False) if replica_url
        else app.extensions["sessionmaker"])

    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        for name in ("db_session", "db_read_session"):
            session = g.pop(name, None)
            if session is not None:
                session.close()


def get_session() -> Session:
    """Return this request's (or CLI command's) session, opening it on first use."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["sessionmaker"]()
    session: Session = g.db_session
    return session


def get_read_session() -> Session:
    """Return this request's read-only session: on the replica if one is configured.

    A replica may lag behind the primary: use it only for what may be a moment old
    (the scan page), never to check a write's preconditions.
    """
    if current_app.extensions["read_sessionmaker"] is current_app.extensions["sessionmaker"]:
        return get_session()
    if "db_read_session" not in g:
        g.db_read_session = current_app.extensions["read_sessionmaker"]()
    session: Session = g.db_read_session
    return session
