"""Appends through the database: chains, tiles, proofs, checkpoints and the fork guard."""

from __future__ import annotations

import base64
import json
import threading
import time
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import event, func, select, text
from sqlalchemy.orm import Session

from ledger import audit, merkle, note, sequencer, store
from ledger import entry as entry_module
from ledger.errors import EntryError, ProofError, SequencerError
from ledger.models import HEAD_ID, CheckpointRow, LogEntry, LogHead, ObjectHead
from ledger.signer import LogSigner
from web.models import metadata
from tests.factories import append_entries, new_entries


def _all_leaves(session: Session) -> list[bytes]:
    return list(session.scalars(select(LogEntry.leaf_hash).order_by(LogEntry.idx)))


def test_append_assigns_consecutive_indexes_and_links_each_chain(
    db_session: Session, signer: LogSigner
) -> None:
    first = sequencer.append(db_session, signer, new_entries(4))
    second = sequencer.append(db_session, signer, new_entries(2, start=4))
    assert [a.index for a in first + second] == [0, 1, 2, 3, 4, 5]
    # subjects a, b, c, a, b, c: each entry's prev is the previous leaf of its subject
    assert [a.prev for a in first[:3]] == [None, None, None]
    assert first[3].prev == first[0].leaf_hash
    assert second[0].prev == first[1].leaf_hash
    assert json.loads(second[1].data)["prev"] == base64.b64encode(first[2].leaf_hash).decode()
    head = db_session.get(ObjectHead, "item:a")
    assert head is not None and (head.count, head.last_idx) == (2, 3)


def test_root_matches_rfc9162_tree_hash_of_all_leaves(db_session: Session, signer: LogSigner) -> None:
    append_entries(db_session, signer, 700, batch=97)
    state = store.read_head(db_session)
    assert state.size == 700
    assert state.root == merkle.root_hash(_all_leaves(db_session))


@pytest.mark.parametrize("size", [1, 2, 3, 255, 256, 257, 600])
def test_stored_inclusion_proofs_verify_against_the_root(
    db_session: Session, signer: LogSigner, size: int
) -> None:
    append_entries(db_session, signer, size, batch=128)
    leaves = _all_leaves(db_session)
    for tree_size in {size, max(1, size // 2), max(1, size - 1)}:
        root = merkle.root_hash(leaves[:tree_size])
        for index in {0, tree_size // 3, tree_size - 1}:
            path = store.inclusion_proof(db_session, index, tree_size)
            merkle.verify_inclusion(leaves[index], index, tree_size, path, root)


def test_stored_consistency_proofs_verify(db_session: Session, signer: LogSigner) -> None:
    append_entries(db_session, signer, 600, batch=50)
    leaves = _all_leaves(db_session)
    for first, second in [(1, 600), (7, 8), (256, 600), (255, 513), (300, 599)]:
        path = store.consistency_proof(db_session, first, second)
        merkle.verify_consistency(first, second, path, merkle.root_hash(leaves[:first]),
                                  merkle.root_hash(leaves[:second]))


def test_proof_requests_beyond_the_log_are_refused(db_session: Session, signer: LogSigner) -> None:
    append_entries(db_session, signer, 5)
    with pytest.raises(ProofError, match="beyond"):
        store.inclusion_proof(db_session, 1, 6)
    with pytest.raises(ProofError, match="not below"):
        store.inclusion_proof(db_session, 5, 5)
    with pytest.raises(ProofError, match="must not exceed"):
        store.consistency_proof(db_session, 4, 3)


def test_every_batch_signs_a_checkpoint_that_verifies(db_session: Session, signer: LogSigner) -> None:
    append_entries(db_session, signer, 30, batch=10)
    rows = list(db_session.scalars(select(CheckpointRow).order_by(CheckpointRow.size)))
    assert [r.size for r in rows] == [10, 20, 30]
    verifier = note.NoteVerifier.from_vkey(signer.vkey)
    latest = store.latest_checkpoint(db_session)
    checkpoint = note.parse_checkpoint(note.verify_note(latest, [verifier]).text)
    assert (checkpoint.origin, checkpoint.size) == (signer.origin, 30)
    assert checkpoint.root_hash == store.read_head(db_session).root
    for earlier, later in zip(rows, rows[1:]):
        path = store.consistency_proof(db_session, earlier.size, later.size)
        merkle.verify_consistency(earlier.size, later.size, path, earlier.root, later.root)


def test_a_bad_entry_rolls_back_the_whole_batch(db_session: Session, signer: LogSigner) -> None:
    append_entries(db_session, signer, 3)
    bad = new_entries(3, start=3) + [
        sequencer.NewEntry("test.event", "no time zone", "a", "item:z", {})
    ]
    with pytest.raises(EntryError):
        sequencer.append(db_session, signer, bad)
    assert store.read_head(db_session).size == 3
    assert db_session.scalar(select(func.count()).select_from(LogEntry)) == 3
    assert db_session.get(ObjectHead, "item:z") is None


def test_an_exception_in_the_write_block_leaves_nothing(db_session: Session, signer: LogSigner) -> None:
    with pytest.raises(RuntimeError):
        with sequencer.write_transaction(db_session, signer) as writer:
            writer.append(new_entries(5))
            raise RuntimeError("projection failed")
    assert store.read_head(db_session).size == 0
    assert db_session.scalar(select(func.count()).select_from(CheckpointRow)) == 0


def test_signer_refuses_a_database_restored_from_an_old_backup(
    db_session: Session, signer: LogSigner
) -> None:
    append_entries(db_session, signer, 10)
    backup = {t: [dict(r._mapping) for r in db_session.execute(t.select())]
              for t in metadata.sorted_tables}
    append_entries(db_session, signer, 5)  # the signer has now signed size 15
    for table in reversed(metadata.sorted_tables):  # restore the backup, logically
        db_session.execute(table.delete())
    for table in metadata.sorted_tables:
        if backup[table]:
            db_session.execute(table.insert(), backup[table])
    db_session.commit()
    with pytest.raises(SequencerError, match="old backup"):
        sequencer.append(db_session, signer, new_entries(1))
    assert store.read_head(db_session).size == 10


def test_fork_guard_refuses_a_tree_that_does_not_contain_the_signed_one(
    db_session: Session, signer: LogSigner, tmp_path: Path
) -> None:
    append_entries(db_session, signer, 8)
    # Another signer (same key) remembers a checkpoint of size 8 with another root.
    forked = LogSigner(signer.origin, signer.key, tmp_path / "state.json")
    forked.remember(8, b"\x11" * 32)
    with pytest.raises(SequencerError, match="fork"):
        sequencer.append(db_session, forked, new_entries(1))
    forked.remember(4, b"\x22" * 32)  # smaller: ignored, 8 stays remembered
    assert forked.last_signed() == (8, b"\x11" * 32)


def test_a_log_of_another_origin_is_refused(db_session: Session, signer: LogSigner,
                                            tmp_path: Path) -> None:
    append_entries(db_session, signer, 1)
    other = LogSigner("other.example/log", note.generate_signer("other.example/log"), None)
    with pytest.raises(SequencerError, match="other.example/log"):
        sequencer.append(db_session, other, new_entries(1))


def test_a_session_reused_after_another_writer_appended_sees_the_new_head(
    app: Flask, signer: LogSigner
) -> None:
    # Regression: sessions keep objects across commits (expire_on_commit=False), and
    # Session.get(..., with_for_update=True) locked the head row but returned the stale
    # LogHead still in the identity map: its size was reused -> IntegrityError on idx.
    make_session = app.extensions["sessionmaker"]
    with make_session() as first, make_session() as second:
        with sequencer.write_transaction(first, signer) as earlier:
            earlier.append(new_entries(3))
        # `earlier` (so its LogHead, size 3) stays referenced, as a caller's local would:
        # the identity map keeps it.
        assert first.get(LogHead, HEAD_ID) is earlier.head
        sequencer.append(second, signer, new_entries(4, start=3))
        again = sequencer.append(first, signer, new_entries(2, start=7))
        assert [a.index for a in again] == [7, 8]
        # item:b's chain crossed sessions: 1, 4 (second), 7 (first again)
        assert again[0].prev == merkle.leaf_hash(
            first.scalars(select(LogEntry.data).where(LogEntry.idx == 4)).one())
        # Tiles are read fresh too: proofs from the first session cover all 9 leaves.
        leaves = _all_leaves(first)
        root = merkle.root_hash(leaves)
        for index in (0, 5, 8):
            merkle.verify_inclusion(leaves[index], index, 9,
                                    store.inclusion_proof(first, index, 9), root)
        assert audit.audit(first, signer.vkey).size == 9


def test_a_subject_of_256_characters_is_stored(db_session: Session, signer: LogSigner) -> None:
    # Regression: entry.py allows 256 characters but the columns were VARCHAR(200), which
    # PostgreSQL enforces.
    subject = "item:" + "s" * 251
    assert len(subject) == 256
    appended = sequencer.append(db_session, signer, new_entries(2, subjects=[subject]))
    assert appended[1].prev == appended[0].leaf_hash
    assert [e.subject for e in store.entries_of(db_session, subject)] == [subject, subject]
    head = db_session.get(ObjectHead, subject)
    assert head is not None and head.count == 2
    for column in (LogEntry.__table__.c.subject, ObjectHead.__table__.c.subject):
        assert column.type.length == entry_module._MAX_ID_LEN  # type: ignore[attr-defined]


def _wait_until_waiting_on_a_lock(app: Flask, thread: threading.Thread) -> None:
    """Return once ``thread``'s transaction waits on the first one (PostgreSQL), or soon."""
    engine = app.extensions["engine"]
    deadline = time.monotonic() + 20
    while thread.is_alive() and time.monotonic() < deadline:
        if engine.dialect.name != "postgresql":
            time.sleep(0.3)  # SQLite: it waits for the write lock in BEGIN IMMEDIATE
            return
        with engine.connect() as conn:
            waiting = conn.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"))
        if waiting:
            return
        time.sleep(0.02)


def test_two_writers_making_the_first_append_at_once_both_succeed(
    app: Flask, signer: LogSigner
) -> None:
    # Regression: both found no head row and inserted one; the second failed on the
    # primary key once the first committed (PostgreSQL; SQLite serialises at BEGIN).
    make_session = app.extensions["sessionmaker"]
    outcome: dict[str, object] = {}

    def second_writer() -> None:
        with make_session() as session:
            try:
                outcome["appended"] = sequencer.append(session, signer, new_entries(2, start=3))
            except BaseException as exc:  # reported to the test below
                outcome["error"] = exc

    with make_session() as first:
        with sequencer.write_transaction(first, signer) as writer:
            writer.append(new_entries(3))  # the head row exists now, uncommitted
            thread = threading.Thread(target=second_writer)
            thread.start()
            _wait_until_waiting_on_a_lock(app, thread)
        thread.join(timeout=60)
        assert not thread.is_alive()
        assert "error" not in outcome, outcome.get("error")
        assert [a.index for a in outcome["appended"]] == [3, 4]  # type: ignore[union-attr]
    with make_session() as session:
        assert store.read_head(session).size == 5
        assert audit.audit(session, signer.vkey).size == 5


def test_a_proof_reads_all_its_tiles_in_one_query(
    app: Flask, db_session: Session, signer: LogSigner
) -> None:
    append_entries(db_session, signer, 600, batch=100)
    leaves = _all_leaves(db_session)
    statements: list[str] = []

    def record(*args: object) -> None:  # conn, cursor, statement, parameters, context, many
        statements.append(str(args[2]))

    engine = app.extensions["engine"]
    event.listen(engine, "before_cursor_execute", record)
    try:
        with app.extensions["sessionmaker"]() as session:
            path = store.inclusion_proof(session, 300, 600)  # tiles 0/1, 0/2 and 1/0
            consistency = store.consistency_proof(session, 300, 600)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    merkle.verify_inclusion(leaves[300], 300, 600, path, merkle.root_hash(leaves))
    merkle.verify_consistency(300, 600, consistency, merkle.root_hash(leaves[:300]),
                              merkle.root_hash(leaves))
    assert sum("ledger_tiles" in s for s in statements) == 2  # one per proof
