"""``flask ledger replay`` rebuilds every registered projection exactly."""

from __future__ import annotations

from flask.testing import FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import replay
from ledger.signer import LogSigner
from tests.factories import append_entries


def snapshot(session: Session) -> dict[str, list[tuple[object, ...]]]:
    """Return every row of every registered projection table, in a stable order."""
    tables = [t for p in replay.projections() for t in p.tables]
    result = {}
    for table in tables:
        rows = session.execute(select(table).order_by(*table.primary_key.columns)).all()
        result[table.name] = [tuple(r) for r in rows]
    return result


def test_replay_rebuilds_projections_identically(
    runner: FlaskCliRunner, db_session: Session, signer: LogSigner
) -> None:
    append_entries(db_session, signer, 250, batch=40, subjects=[f"item:{i}" for i in range(17)])
    before = snapshot(db_session)
    assert before["ledger_objects"]
    db_session.rollback()
    result = runner.invoke(args=["ledger", "replay"])
    assert result.exit_code == 0, result.output
    assert "replayed 250 entries" in result.output
    db_session.expire_all()
    assert snapshot(db_session) == before
