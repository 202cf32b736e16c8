"""``flask ledger audit`` names the first index that does not match, for each kind of tampering."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import update
from sqlalchemy.orm import Session

from ledger import audit, merkle
from ledger.errors import AuditError
from ledger.models import HEAD_ID, CheckpointRow, LogEntry, LogHead, Tile
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


# --- the level-0 tile check compares 256 leaves at once: the first problem is still named


def _relink(session: Session, index: int) -> None:
    """Give entry ``index`` a wrong prev, re-canonicalised and with its own leaf hash."""
    import rfc8785

    row = session.get(LogEntry, index)
    assert row is not None
    envelope = json.loads(row.data)
    envelope["prev"] = base64.b64encode(b"\x01" * 32).decode()
    row.data = rfc8785.dumps(envelope)
    row.leaf_hash = merkle.leaf_hash(row.data)


def _flip_tile_hash(session: Session, level: int, tile: int, position: int) -> None:
    row = session.get(Tile, (level, tile))
    assert row is not None
    hashes = bytearray(row.hashes)
    hashes[32 * position] ^= 0xFF
    row.hashes = bytes(hashes)


def _failure(session: Session, vkey: str, workers: int = 1) -> tuple[int | None, str]:
    session.expire_all()
    with pytest.raises(AuditError) as caught:
        audit.audit(session, vkey, workers=workers)
    session.rollback()
    return caught.value.index, caught.value.code


def test_an_altered_leaf_hash_before_a_broken_link_is_named_first(
    app: Flask, filled: Session
) -> None:
    _flip_tile_hash(filled, 0, 1, 10)  # leaf 266
    _relink(filled, 300)
    filled.commit()
    assert _failure(filled, app.extensions["ledger_signer"].vkey) == (266, "ledger.audit.node_hash")


def test_a_broken_link_before_an_altered_leaf_hash_is_named_first(
    app: Flask, filled: Session
) -> None:
    _relink(filled, 100)
    _flip_tile_hash(filled, 0, 1, 10)  # leaf 266
    filled.commit()
    assert _failure(filled, app.extensions["ledger_signer"].vkey) == (100, "ledger.audit.prev")


def test_an_altered_leaf_hash_before_a_bad_checkpoint_is_named_first(
    app: Flask, filled: Session
) -> None:
    _flip_tile_hash(filled, 0, 1, 40)  # leaf 296; checkpoints at 150, 300, 450, 600
    filled.execute(update(CheckpointRow).where(CheckpointRow.size == 300).values(root=b"\x02" * 32))
    filled.commit()
    assert _failure(filled, app.extensions["ledger_signer"].vkey) == (296, "ledger.audit.node_hash")


def test_an_altered_last_leaf_hash_is_named(
    app: Flask, filled: Session
) -> None:
    _flip_tile_hash(filled, 0, 2, 87)  # leaf 599, the last: compared after the last row
    filled.commit()
    assert _failure(filled, app.extensions["ledger_signer"].vkey) == (599, "ledger.audit.node_hash")


def test_a_tile_holding_hashes_beyond_the_log_is_named(
    app: Flask, filled: Session
) -> None:
    tile = filled.get(Tile, (0, 2))  # leaves 512..599: 88 hashes
    assert tile is not None
    tile.hashes += b"\x00" * 32
    filled.commit()
    assert _failure(filled, app.extensions["ledger_signer"].vkey) == (600, "ledger.audit.node_hash")


def test_an_entry_about_another_subject_than_its_row_is_named(
    app: Flask, filled: Session
) -> None:
    row = filled.get(LogEntry, 77)
    assert row is not None
    row.subject = "item:other"
    filled.commit()
    assert _failure(filled, app.extensions["ledger_signer"].vkey) == (77, "ledger.audit.envelope")


# --- two processes: the same report, and the same first problem as one pass


@pytest.fixture
def larger(db_session: Session, signer: LogSigner, monkeypatch: pytest.MonkeyPatch) -> Session:
    """1,500 entries about 7 subjects, 15 checkpoints; the second process starts at 768."""
    append_entries(db_session, signer, 1500, batch=100, subjects=[f"item:{i}" for i in range(7)])
    db_session.expire_all()
    monkeypatch.setattr(audit, "_split_point", lambda size, head_start: 768)
    return db_session


@pytest.mark.parametrize("start", ["fork", "spawn"])
def test_two_processes_report_what_one_pass_reports(
    app: Flask, larger: Session, monkeypatch: pytest.MonkeyPatch, start: str
) -> None:
    if start == "spawn":  # what a process with other threads (a web server) does
        monkeypatch.setattr(audit.threading, "active_count", lambda: 2)
    vkey = app.extensions["ledger_signer"].vkey
    split_results: list[object] = []
    real_split = audit._audit_split

    def recording_split(*args: object) -> object:
        split_results.append(real_split(*args))  # type: ignore[arg-type]
        return split_results[-1]

    monkeypatch.setattr(audit, "_audit_split", recording_split)
    one = audit.audit(larger, vkey, workers=1)
    two = audit.audit(larger, vkey, workers=2)
    assert split_results and split_results[0] is not None  # no fallback to one pass
    assert two == one
    assert (one.size, one.subjects, one.checkpoints) == (1500, 7, 15)


def _delete(session: Session, index: int) -> None:
    session.delete(session.get(LogEntry, index))


def _alter_bytes(session: Session, index: int) -> None:
    row = session.get(LogEntry, index)
    assert row is not None
    row.data = row.data.replace(b'"n":', b'"n":1')


def _append_to_tile(session: Session, level: int, tile: int) -> None:
    row = session.get(Tile, (level, tile))
    assert row is not None
    row.hashes += b"\x00" * 32


def _extra_row(session: Session, index: int) -> None:
    session.add(LogEntry(idx=index, leaf_hash=b"\x00" * 32, subject="item:0", kind="test.event",
                         data=b"{}"))


def _set_checkpoint_root(session: Session, size: int) -> None:
    session.execute(update(CheckpointRow).where(CheckpointRow.size == size)
                    .values(root=b"\x02" * 32))


# case -> (tampering, index and code the audit names); the second process starts at 768
TAMPERING: dict[str, tuple[Callable[[Session], object], int, str]] = {
    "bytes in the first half": (lambda s: _alter_bytes(s, 100), 100, "entry_bytes"),
    "bytes in the second half": (lambda s: _alter_bytes(s, 1000), 1000, "entry_bytes"),
    # entry 770 is the first about item:0 after the split (its prev is entry 763)
    "chain link across the split": (lambda s: _relink(s, 770), 770, "prev"),
    "chain link in the second half": (lambda s: _relink(s, 1100), 1100, "prev"),
    "leaf hash in the second half": (lambda s: _flip_tile_hash(s, 0, 4, 6), 1030, "node_hash"),
    "leaf hash at the split": (lambda s: _flip_tile_hash(s, 0, 2, 255), 767, "node_hash"),
    "level-8 node across the split": (lambda s: _flip_tile_hash(s, 1, 0, 3), 768, "node_hash"),
    "level-8 node in the first half": (lambda s: _flip_tile_hash(s, 1, 0, 1), 256, "node_hash"),
    # the second process starts from nodes 9/0 and 8/2 as the tiles hold them
    "level-8 node the second half starts from": (
        lambda s: _flip_tile_hash(s, 1, 0, 2), 512, "node_hash"),
    "hash beyond the last leaf tile of the first half": (
        lambda s: _append_to_tile(s, 0, 2), 768, "node_hash"),
    "checkpoint in the second half": (lambda s: _set_checkpoint_root(s, 1200), 1199,
                                      "checkpoint_root"),
    "checkpoint at the split": (lambda s: _set_checkpoint_root(s, 800), 799, "checkpoint_root"),
    "missing first entry of the second half": (lambda s: _delete(s, 768), 768, "gap"),
    "missing last entry of the first half": (lambda s: _delete(s, 767), 767, "gap"),
    "row beyond the head": (lambda s: _extra_row(s, 1500), 1500, "entry_bytes"),
    "row before the first": (lambda s: _extra_row(s, -1), 0, "gap"),
    "head root": (lambda s: s.execute(update(LogHead).values(root=b"\x03" * 32)), 1499, "head"),
}


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_two_processes_name_the_same_first_problem_as_one_pass(
    app: Flask, larger: Session, case: str
) -> None:
    tamper, index, code = TAMPERING[case]
    tamper(larger)
    larger.commit()
    vkey = app.extensions["ledger_signer"].vkey
    assert _failure(larger, vkey, workers=1) == (index, f"ledger.audit.{code}")
    assert _failure(larger, vkey, workers=2) == (index, f"ledger.audit.{code}")
