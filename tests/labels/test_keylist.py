"""labels.keylist: the signed /.well-known/trace-keys document; labels.keys basics."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from labels.errors import KeyListError, LabelError
from labels.keylist import KEY_LIST_CONTEXT, build_key_list, verify_key_list
from labels.keys import KeyStatus, LabelKey, LabelSigningKey, b64url

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
ISSUED = dt.datetime(2026, 3, 1, 8, 30, 15, tzinfo=dt.timezone(dt.timedelta(hours=8)))


@pytest.fixture
def service() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(b"\x07" * 32)


@pytest.fixture
def records() -> list[LabelKey]:
    a, b = LabelSigningKey.from_seed(b"\x05" * 32), LabelSigningKey.from_seed(b"\x06" * 32)
    return [
        a.record("示例乳业", T0),
        b.record("Old Co.", T0, T0 + dt.timedelta(days=365), KeyStatus.REVOKED),
    ]


def test_rfc8032_test_1_vector() -> None:
    # RFC 8032 §7.1 TEST 1: LabelSigningKey is plain Ed25519.
    k = LabelSigningKey.from_seed(
        bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    )
    assert k.public_key.hex() == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    assert k.sign(b"").hex() == (
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    )


def test_round_trip(service: Ed25519PrivateKey, records: list[LabelKey]) -> None:
    data = build_key_list(records, service, ISSUED)
    kl = verify_key_list(data, service.public_key())
    assert kl.issued_at == dt.datetime(2026, 3, 1, 0, 30, 15, tzinfo=dt.UTC)
    assert sorted(k.producer for k in kl.keys) == ["Old Co.", "示例乳业"]
    assert {k.key_id: k.status for k in kl.keys} == {r.key_id: r.status for r in records}
    ring = kl.keyring()
    assert len(ring) == 2


def test_document_is_canonical_json_with_detached_signature(
    service: Ed25519PrivateKey, records: list[LabelKey]
) -> None:
    data = build_key_list(records, service, ISSUED)
    doc = json.loads(data)
    assert rfc8785.dumps(doc) == data
    assert set(doc) == {"v", "type", "issuer", "issued_at", "keys", "sig"}
    assert (
        doc["v"] == 1 and doc["type"] == "trace-keys" and doc["issued_at"] == "2026-03-01T00:30:15Z"
    )
    sig = doc.pop("sig")
    assert sig == b64url(
        service.sign(KEY_LIST_CONTEXT + rfc8785.dumps(doc))
    )  # Ed25519 is deterministic
    assert build_key_list(reversed(records), service, ISSUED) == data  # order-independent


def test_tampered_status_is_rejected(service: Ed25519PrivateKey, records: list[LabelKey]) -> None:
    data = build_key_list(records, service, ISSUED).replace(b'"revoked"', b'"active"')
    with pytest.raises(KeyListError, match="signature does not verify"):
        verify_key_list(data, service.public_key())


def test_wrong_trusted_key_is_rejected(service: Ed25519PrivateKey, records: list[LabelKey]) -> None:
    data = build_key_list(records, service, ISSUED)
    with pytest.raises(KeyListError):
        verify_key_list(data, Ed25519PrivateKey.from_private_bytes(b"\x08" * 32).public_key())


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not json", "not JSON"),
        (b"[]", "exactly the members"),
        (b'{"v":1,"v":2}', "duplicate member"),
        (
            b'{"v":2,"type":"trace-keys","issuer":"","issued_at":"","keys":[],"sig":""}',
            "unsupported v=2",
        ),
    ],
)
def test_malformed_documents(service: Ed25519PrivateKey, data: bytes, message: str) -> None:
    with pytest.raises(KeyListError, match=message):
        verify_key_list(data, service.public_key())


def test_mismatched_kid_is_rejected_even_when_signed(
    service: Ed25519PrivateKey, records: list[LabelKey]
) -> None:
    doc = json.loads(build_key_list(records, service, ISSUED))
    doc["keys"][0]["kid"] = "AAAAAA"
    del doc["sig"]
    doc["sig"] = b64url(service.sign(KEY_LIST_CONTEXT + rfc8785.dumps(doc)))
    with pytest.raises(KeyListError, match="does not match its public key"):
        verify_key_list(rfc8785.dumps(doc), service.public_key())


def test_naive_issued_at_is_refused(service: Ed25519PrivateKey, records: list[LabelKey]) -> None:
    with pytest.raises(LabelError, match="timezone-aware"):
        build_key_list(records, service, dt.datetime(2026, 3, 1))
