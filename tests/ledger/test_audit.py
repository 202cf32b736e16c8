"""``flask ledger audit`` names the first index that does not match, for each kind of tampering."""

from __future__ import annotations

import base64
import json

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import update
from sqlalchemy.orm import Session

from ledger import audit, merkle
from ledger.errors import AuditError
from ledger.models import HEAD_ID, LogEntry, LogHead, Tile
from ledger.signer import LogSigner
from tests.factories import append_entries


@pytest.fixture
def filled(db_session: Session, signer: LogSigner) -> Session:
    append_entries(db_session, signer, 600, batch=150)
    db_session.expire_all()
    return db_session


def _run(runner: FlaskCliRunner) -> tuple[int, str]:
    result = runner.invoke(args=["ledger", "audit"])
    return result.exit_code, result.output


def test_audit_of_an_untouched_log_passes(runner: FlaskCliRunner, filled: Session) -> None:
    code, output = _run(runner)
    assert code == 0, output
    assert "audit OK: 600 entries, 3 hash chains, 4 checkpoints" in output


def test_audit_names_altered_entry_bytes(runner: FlaskCliRunner, filled: Session) -> None:
    row = filled.get(LogEntry, 421)
    assert row is not None
    row.data = row.data.replace(b'"n":421', b'"n":422')
    filled.commit()
    code, output = _run(runner)
    assert code == 1
    assert "entry 421" in output and "entry bytes altered" in output


def test_audit_names_rewritten_entry_with_its_leaf_hash(runner: FlaskCliRunner, filled: Session) -> None:
    # The forger also rewrote the stored leaf hash: the tree no longer matches.
    row = filled.get(LogEntry, 300)
    assert row is not None
    row.data = row.data.replace(b'"n":300', b'"n":999')
    row.leaf_hash = merkle.leaf_hash(row.data)
    filled.commit()
    code, output = _run(runner)
    assert code == 1 and "entry 300" in output
    assert "[ledger.audit.node_hash]" in output or "[ledger.audit.prev]" in output


def test_audit_names_an_altered_stored_node_hash(runner: FlaskCliRunner, filled: Session) -> None:
    tile = filled.get(Tile, (0, 1))  # leaves 256..511
    assert tile is not None
    hashes = bytearray(tile.hashes)
    hashes[32 * 10] ^= 0xFF  # leaf 266
    tile.hashes = bytes(hashes)
    filled.commit()
    code, output = _run(runner)
    assert code == 1
    assert "entry 266" in output and "[ledger.audit.node_hash]" in output


def test_audit_names_a_broken_prev_link(app: Flask, filled: Session) -> None:
    row = filled.get(LogEntry, 100)
    assert row is not None
    envelope = json.loads(row.data)
    envelope["prev"] = base64.b64encode(b"\x00" * 32).decode()
    # A forger who re-canonicalises and rehashes everything downstream is caught by the tree;
    # here only the link is wrong, and the entry's own hash is recomputed to match.
    import rfc8785

    row.data = rfc8785.dumps(envelope)
    row.leaf_hash = merkle.leaf_hash(row.data)
    filled.commit()
    with pytest.raises(AuditError) as caught:
        audit.audit(filled, app.extensions["ledger_signer"].vkey)
    assert caught.value.index == 100 and caught.value.code == "ledger.audit.prev"


def test_audit_names_a_bad_checkpoint_signature(runner: FlaskCliRunner, filled: Session) -> None:
    head = filled.get(LogHead, HEAD_ID)
    assert head is not None and head.checkpoint is not None
    text, sig = head.checkpoint.rsplit(" ", 1)
    raw = bytearray(base64.b64decode(sig))
    raw[-1] ^= 1
    filled.execute(update(LogHead).values(checkpoint=f"{text} {base64.b64encode(raw).decode()}\n"))
    filled.commit()
    code, output = _run(runner)
    assert code == 1 and "entry 599" in output and "bad signature" in output


def test_audit_names_a_deleted_entry(runner: FlaskCliRunner, filled: Session) -> None:
    row = filled.get(LogEntry, 42)
    filled.delete(row)
    filled.commit()
    code, output = _run(runner)
    assert code == 1 and "entry 42: missing" in output
