"""labels.signing and labels.keys: sign, verify, tampering, key status."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest

from labels.digital_link import parse_digital_link
from labels.errors import (
    KeyNotValidError,
    KeyRevokedError,
    MalformedSignatureError,
    SignatureError,
    UnknownKeyError,
)
from labels.keys import KeyStatus, LabelKeyring, LabelSigningKey, b64url, key_id_for
from labels.signing import label_message, label_uri, sign_label, verify_label
from labels.symbols import qr

BASE = "https://t.example.cn"
LONG_BASE = "https://trace.verify-example.cn"
NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _uri(key: LabelSigningKey, base: str = BASE) -> str:
    return label_uri(
        base, "6901234567892", "LOT2026A01", "SN0000012345", key, expiry=dt.date(2027, 6, 30)
    )


def test_round_trip_returns_what_was_signed(key: LabelSigningKey, keyring: LabelKeyring) -> None:
    v = verify_label(parse_digital_link(_uri(key)), keyring, NOW)
    assert (v.gtin, v.lot, v.serial, v.expiry, v.production) == (
        "06901234567892",
        "LOT2026A01",
        "SN0000012345",
        "270630",
        None,
    )
    assert v.key.key_id == key.key_id
    assert v.canonical_uri == "https://id.gs1.org/01/06901234567892/10/LOT2026A01/21/SN0000012345"


def test_signature_is_host_and_stem_independent(
    key: LabelSigningKey, keyring: LabelKeyring
) -> None:
    uri = _uri(key).replace(BASE, "http://other.example.com/any/stem")
    assert verify_label(parse_digital_link(uri), keyring, NOW).serial == "SN0000012345"


def test_message_bytes_are_exactly_specified(key: LabelSigningKey) -> None:
    msg = label_message(
        "06901234567892",
        "LOT2026A01",
        "SN0000012345",
        key.key_id,
        production="260102",
        expiry="270630",
    )
    element_string = b"0106901234567892112601021727063010LOT2026A01\x1d21SN0000012345"
    assert msg == b"TL1\n" + element_string + b"\n" + key.key_id.encode()


def test_key_id_is_first_four_bytes_of_sha256_base64url(key: LabelSigningKey) -> None:
    assert key.key_id == b64url(hashlib.sha256(key.public_key).digest()[:4])
    assert len(key.key_id) == 6
    assert key_id_for(key.public_key) == key.key_id


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("/10/LOT2026A01", "/10/LOT2026A02"),
        ("/21/SN0000012345", "/21/SN0000012346"),
        ("/01/06901234567892", "/01/06901234567885"),
        ("17=270630", "17=280630"),
    ],
    ids=["lot", "serial", "gtin", "expiry"],
)
def test_tampered_field_is_rejected(
    key: LabelSigningKey, keyring: LabelKeyring, old: str, new: str
) -> None:
    uri = _uri(key)
    assert old in uri
    with pytest.raises(SignatureError) as e:
        verify_label(parse_digital_link(uri.replace(old, new)), keyring, NOW)
    assert e.value.code == "labels.bad_signature"


def test_removed_expiry_is_rejected(key: LabelSigningKey, keyring: LabelKeyring) -> None:
    with pytest.raises(SignatureError):
        verify_label(parse_digital_link(_uri(key).replace("17=270630&", "")), keyring, NOW)


def test_tampered_key_id_is_rejected(key: LabelSigningKey) -> None:
    other = LabelSigningKey.from_seed(b"\x01" * 32)
    ring = LabelKeyring([key.record("a", T0), other.record("b", T0)])
    uri = _uri(key).replace(f"k={key.key_id}", f"k={other.key_id}")
    with pytest.raises(SignatureError) as e:
        verify_label(parse_digital_link(uri), ring, NOW)
    assert e.value.code == "labels.bad_signature"


def test_unknown_key_id(key: LabelSigningKey) -> None:
    with pytest.raises(UnknownKeyError, match="no label key with id"):
        verify_label(parse_digital_link(_uri(key)), LabelKeyring(), NOW)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda u: u.replace("&s=", "&s=A"), "signature"),
        (lambda u: u + "&s=AAAA", "exactly once"),
        (lambda u: u.split("&s=")[0], "exactly once"),
        (lambda u: u + "&3103=000195", r"attribute \(3103\)"),
        (lambda u: u.replace("/10/LOT2026A01", ""), "step 1"),
    ],
    ids=["bad-base64", "two-s", "no-s", "unsigned-attribute", "no-lot"],
)
def test_malformed_signature_parameters(
    key: LabelSigningKey, keyring: LabelKeyring, edit: object, message: str
) -> None:
    uri = edit(_uri(key))  # type: ignore[operator]
    with pytest.raises(MalformedSignatureError, match=message):
        verify_label(parse_digital_link(uri), keyring, NOW)


def test_non_canonical_base64_is_rejected(key: LabelSigningKey, keyring: LabelKeyring) -> None:
    uri = _uri(key)
    sig = uri.split("&s=")[1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    # 86 chars carry 516 bits: the last char's low 4 bits must be zero
    last = alphabet[alphabet.index(sig[-1]) | 1]
    with pytest.raises(MalformedSignatureError, match="canonical"):
        verify_label(parse_digital_link(uri[:-1] + last), keyring, NOW)


def test_retired_key_still_verifies(key: LabelSigningKey) -> None:
    ring = LabelKeyring([key.record("p", T0, status=KeyStatus.RETIRED)])
    assert verify_label(parse_digital_link(_uri(key)), ring, NOW).key.status is KeyStatus.RETIRED


def test_revoked_key_fails(key: LabelSigningKey) -> None:
    ring = LabelKeyring([key.record("p", T0, status=KeyStatus.REVOKED)])
    with pytest.raises(KeyRevokedError) as e:
        verify_label(parse_digital_link(_uri(key)), ring, NOW)
    assert e.value.code == "labels.key_revoked"


@pytest.mark.parametrize(
    ("nb", "na"), [(NOW + dt.timedelta(seconds=1), None), (T0, NOW)], ids=["not-yet", "expired"]
)
def test_key_outside_validity_fails(
    key: LabelSigningKey, nb: dt.datetime, na: dt.datetime | None
) -> None:
    ring = LabelKeyring([key.record("p", nb, na)])
    with pytest.raises(KeyNotValidError):
        verify_label(parse_digital_link(_uri(key)), ring, NOW)


COLLISION = json.loads(
    (Path(__file__).parents[1] / "vectors/labels/key_id_collision.json").read_text()
)


@pytest.mark.parametrize("signer", [0, 1])
def test_key_id_collision_tries_every_candidate(signer: int) -> None:
    a, b = (LabelSigningKey.from_seed(bytes.fromhex(h)) for h in COLLISION["seeds_hex"])
    assert a.key_id == b.key_id == COLLISION["key_id"] and a.public_key != b.public_key
    ring = LabelKeyring([a.record("a", T0), b.record("b", T0)])
    assert len(ring.candidates(a.key_id)) == 2
    uri = _uri((a, b)[signer])
    assert verify_label(parse_digital_link(uri), ring, NOW).key.producer == "ab"[signer]


def test_key_id_collision_with_revoked_twin_still_verifies_the_valid_key() -> None:
    a, b = (LabelSigningKey.from_seed(bytes.fromhex(h)) for h in COLLISION["seeds_hex"])
    ring = LabelKeyring([a.record("a", T0, status=KeyStatus.REVOKED), b.record("b", T0)])
    assert verify_label(parse_digital_link(_uri(b)), ring, NOW).key.producer == "b"
    with pytest.raises(KeyRevokedError):
        verify_label(parse_digital_link(_uri(a)), ring, NOW)


def test_revoked_twin_does_not_mask_valid_key(key: LabelSigningKey) -> None:
    ring = LabelKeyring([key.record("p", T0, status=KeyStatus.REVOKED)])
    ring.add(
        key.record("p", T0, status=KeyStatus.ACTIVE)
    )  # same public key: the newer record replaces
    assert len(ring) == 1
    assert verify_label(parse_digital_link(_uri(key)), ring, NOW).key.status is KeyStatus.ACTIVE


def test_naive_time_is_refused(key: LabelSigningKey, keyring: LabelKeyring) -> None:
    with pytest.raises(Exception, match="timezone-aware"):
        verify_label(parse_digital_link(_uri(key)), keyring, dt.datetime(2026, 3, 1))


def test_sign_label_validates_inputs(key: LabelSigningKey) -> None:
    with pytest.raises(Exception, match="bad check digit"):
        sign_label("6901234567893", "L", "S", key)
    with pytest.raises(Exception, match="forbidden character"):
        sign_label("6901234567892", "L 1", "S", key)


def test_full_signed_uri_with_long_host_fits_qr_version_10_at_m(key: LabelSigningKey) -> None:
    host25 = "https://verify.trace-examples.com"
    assert len(host25) - len("https://") == 25
    versions = []
    for base in (BASE, LONG_BASE, host25):
        for dates in ({}, {"expiry": "270630"}, {"production": "260102", "expiry": "270630"}):
            uri = label_uri(base, "16901234567899", "LOT26A0101", "SN0000012345", key, **dates)
            sym = qr(uri, ecc="M")
            assert sym.version is not None and sym.version <= 10, (len(uri), sym.version)
            versions.append(sym.version)
    assert (
        versions[-2] == 9
    )  # 25-char host with expiry only (the usual label): one version to spare
