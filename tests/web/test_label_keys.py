"""Producer label keys: encrypted at rest, rotated and revoked through the ledger, listed signed."""

from __future__ import annotations

import base64
from datetime import datetime, timezone

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from labels.digital_link import parse_digital_link
from labels.errors import KeyRevokedError
from labels.keylist import verify_key_list
from labels.signing import sign_label, verify_label
from ledger import sequencer, store
from ledger.actor import Actor
from ledger.signer import LogSigner
from trace import label_keys

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=timezone.utc)
PRODUCER = Actor("subject:producer-1", "producer")


def _create(app: Flask, session: Session, signer: LogSigner):  # type: ignore[no-untyped-def]
    with sequencer.write_transaction(session, signer) as writer:
        return label_keys.create_key(writer, PRODUCER, PRODUCER.id, app.config["MASTER_KEY"], NOW)


def test_private_seed_is_stored_encrypted_and_decrypts_with_the_master_key(
    app: Flask, db_session: Session, signer: LogSigner
) -> None:
    key = _create(app, db_session, signer)
    sealed = db_session.get(label_keys.LabelKeySecret, key.public_key).sealed
    assert key.seed() not in sealed
    again = label_keys.signing_key(db_session, PRODUCER.id, app.config["MASTER_KEY"])
    assert again.public_key == key.public_key
    with pytest.raises(Exception):
        label_keys.signing_key(db_session, PRODUCER.id, "another master key")


def test_rotation_retires_the_old_key_which_still_verifies(
    app: Flask, db_session: Session, signer: LogSigner
) -> None:
    old = _create(app, db_session, signer)
    label = sign_label("06901234567892", "L1", "S1", old).uri("https://t.example.cn")
    new = _create(app, db_session, signer)
    statuses = {r.public_key: r.status for r in db_session.query(label_keys.LabelKeyRow)}
    assert statuses == {old.public_key: "retired", new.public_key: "active"}
    verified = verify_label(parse_digital_link(label), label_keys.keyring(db_session), NOW)
    assert verified.serial == "S1"
    entries = store.entries_of(
        db_session, "labelkey:" + base64.urlsafe_b64encode(old.public_key).rstrip(b"=").decode())
    assert [e.kind for e in entries] == ["labels.key.created", "labels.key.retired"]


def test_a_revoked_key_no_longer_verifies(app: Flask, db_session: Session, signer: LogSigner) -> None:
    key = _create(app, db_session, signer)
    label = sign_label("06901234567892", "L1", "S2", key).uri("https://t.example.cn")
    with sequencer.write_transaction(db_session, signer) as writer:
        label_keys.revoke_key(writer, Actor("subject:inspector", "inspector"), key.public_key, NOW,
                              "seed leaked")
    with pytest.raises(KeyRevokedError):
        verify_label(parse_digital_link(label), label_keys.keyring(db_session), NOW)


def test_another_producer_may_not_create_keys(app: Flask, db_session: Session,
                                              signer: LogSigner) -> None:
    with pytest.raises(label_keys.LabelKeyError):
        with sequencer.write_transaction(db_session, signer) as writer:
            label_keys.create_key(writer, Actor("subject:other", "producer"), PRODUCER.id,
                                  app.config["MASTER_KEY"], NOW)
    assert store.read_head(db_session).size == 0


def test_well_known_key_list_is_signed_and_lists_every_key(
    app: Flask, client: FlaskClient, db_session: Session, signer: LogSigner
) -> None:
    old = _create(app, db_session, signer)
    new = _create(app, db_session, signer)
    pinned = client.get("/.well-known/trace-keys.pub").get_data(as_text=True).strip()
    raw = base64.urlsafe_b64decode(pinned + "=" * (-len(pinned) % 4))
    key_list = verify_key_list(client.get("/.well-known/trace-keys").data, raw)
    listed = {k.public_key: k.status.value for k in key_list.keys}
    assert listed == {old.public_key: "retired", new.public_key: "active"}


def test_replay_rebuilds_the_key_table(app: Flask, db_session: Session, signer: LogSigner) -> None:
    from ledger import replay

    _create(app, db_session, signer)
    _create(app, db_session, signer)
    before = sorted((r.public_key, r.status) for r in db_session.query(label_keys.LabelKeyRow))
    replay.replay(db_session)
    db_session.commit()
    after = sorted((r.public_key, r.status) for r in db_session.query(label_keys.LabelKeyRow))
    assert before == after and len(after) == 2
