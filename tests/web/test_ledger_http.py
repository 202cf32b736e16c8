"""``/ledger/``: checkpoint, key, entries, proofs and offline bundles; bad parameters are 400s."""

from __future__ import annotations

import base64

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from ledger import merkle, note, proof_bundle
from ledger.signer import LogSigner
from tests.factories import append_entries


@pytest.fixture
def filled(db_session: Session, signer: LogSigner) -> int:
    append_entries(db_session, signer, 20, batch=7)
    return 20


def test_checkpoint_and_key_verify_each_other(client: FlaskClient, filled: int) -> None:
    checkpoint = client.get("/ledger/checkpoint")
    assert checkpoint.mimetype == "text/plain"
    vkey = client.get("/ledger/key").get_data(as_text=True).strip()
    verified = note.verify_note(checkpoint.get_data(as_text=True),
                                [note.NoteVerifier.from_vkey(vkey)])
    assert note.parse_checkpoint(verified.text).size == filled


def test_checkpoint_of_an_empty_log_is_a_404_problem(client: FlaskClient) -> None:
    response = client.get("/ledger/checkpoint")
    assert response.status_code == 404
    assert response.json["code"] == "ledger.not_found"


def test_entry_carries_exact_bytes_leaf_hash_and_decoded_json(client: FlaskClient, filled: int) -> None:
    body = client.get("/ledger/entries/7").json
    data = base64.b64decode(body["entry"])
    assert base64.b64decode(body["leaf_hash"]) == merkle.leaf_hash(data)
    assert body["index"] == 7 and body["decoded"]["body"] == {"n": 7}


def test_inclusion_proof_over_http_verifies(client: FlaskClient, filled: int) -> None:
    leaf = base64.b64decode(client.get("/ledger/entries/5").json["leaf_hash"])
    body = client.get("/ledger/proof/inclusion?index=5&size=20").json
    root = note.parse_checkpoint(
        client.get("/ledger/checkpoint").get_data(as_text=True).split("\n\n")[0] + "\n").root_hash
    path = [base64.b64decode(p) for p in body["path"]]
    merkle.verify_inclusion(leaf, 5, 20, path, root)
    assert (body["index"], body["size"]) == (5, 20)


def test_consistency_proof_over_http_verifies(client: FlaskClient, db_session: Session,
                                              filled: int) -> None:
    from ledger.models import CheckpointRow

    first, second = db_session.get(CheckpointRow, 7), db_session.get(CheckpointRow, 20)
    body = client.get("/ledger/proof/consistency?first=7&second=20").json
    path = [base64.b64decode(p) for p in body["path"]]
    merkle.verify_consistency(7, 20, path, first.root, second.root)


def test_bundle_verifies_offline(client: FlaskClient, filled: int) -> None:
    text = client.get("/ledger/proof/bundle/11").get_data(as_text=True)
    entry = base64.b64decode(client.get("/ledger/entries/11").json["entry"])
    vkey = client.get("/ledger/key").get_data(as_text=True).strip()
    checkpoint = proof_bundle.verify_proof_bundle(
        text, entry, [note.LogVerifierKey.from_vkey(vkey)], "test.trace.local/log")
    assert checkpoint.size == filled


@pytest.mark.parametrize("url", [
    "/ledger/entries/-1", "/ledger/entries/abc", "/ledger/entries/20", "/ledger/entries/01",
    "/ledger/entries/99999999999999999999999",
    "/ledger/proof/inclusion?index=-1&size=5", "/ledger/proof/inclusion?index=x&size=5",
    "/ledger/proof/inclusion?index=5&size=5", "/ledger/proof/inclusion?index=1&size=21",
    "/ledger/proof/inclusion?size=5", "/ledger/proof/inclusion?index=1",
    "/ledger/proof/inclusion?index=+1&size=5", "/ledger/proof/inclusion?index=1.0&size=5",
    "/ledger/proof/consistency?first=5&second=3", "/ledger/proof/consistency?first=1&second=21",
    "/ledger/proof/consistency?first=-2&second=3", "/ledger/proof/consistency?first=a&second=3",
    "/ledger/proof/consistency?first=1", "/ledger/proof/bundle/20", "/ledger/proof/bundle/-3",
    "/ledger/proof/bundle/%00",
])
def test_bad_parameters_are_400_problems(client: FlaskClient, filled: int, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] and response.json["title_zh"] and response.json["title_en"]
