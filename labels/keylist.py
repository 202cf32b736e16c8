"""The signed label key list served at ``/.well-known/trace-keys``.

Like the EU DCC trust list, one JSON document lists every label key with its
producer, status and validity, signed by the service's key.  Offline
verifiers pin the service's public key, fetch the list, verify it, and build
a :class:`labels.keys.LabelKeyring` from it.

Document (version 1)::

    {"v": 1, "type": "trace-keys", "issuer": <kid>, "issued_at": <time>,
     "keys": [{"kid", "alg": "Ed25519", "pub", "producer", "status",
               "not_before", "not_after"}...],
     "sig": <b64url Ed25519 signature>}

* ``kid``, ``issuer``: key ids (:func:`labels.keys.key_id_for`); ``pub``:
  base64url of the raw 32-byte public key; times: RFC 3339 UTC
  ``YYYY-MM-DDTHH:MM:SSZ``; ``not_after`` may be null.
* ``sig`` = Ed25519(service key, ``b"TK1\\n" + JCS(document without "sig")``)
  where JCS is RFC 8785 canonical JSON.  The whole document is itself
  emitted as RFC 8785 JSON, so the bytes are deterministic.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from labels.errors import KeyListError, LabelError
from labels.keys import KeyStatus, LabelKey, LabelKeyring, b64url, b64url_decode, key_id_for

__all__ = ["KEY_LIST_CONTEXT", "KeyList", "build_key_list", "verify_key_list"]

KEY_LIST_CONTEXT = b"TK1\n"  # domain separation: a key list signature is never a label signature
_TYPE = "trace-keys"
_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_KEY_FIELDS = {"kid", "alg", "pub", "producer", "status", "not_before", "not_after"}
_DOC_FIELDS = {"v", "type", "issuer", "issued_at", "keys", "sig"}


@dataclass(frozen=True)
class KeyList:
    """A verified key list: who issued it, when, and the keys it lists."""

    issuer: str
    issued_at: _dt.datetime
    keys: tuple[LabelKey, ...]

    def keyring(self) -> LabelKeyring:
        """Return a keyring holding every listed key."""
        return LabelKeyring(self.keys)


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _time(t: _dt.datetime) -> str:
    if t.tzinfo is None:
        raise LabelError(f"time must be timezone-aware, got {t.isoformat()}")
    return t.astimezone(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(s: Any, what: str) -> _dt.datetime:
    if not isinstance(s, str) or not _TIME_RE.match(s):
        raise KeyListError(f"{what}: {s!r} is not YYYY-MM-DDTHH:MM:SSZ")
    try:
        return _dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=_dt.UTC)
    except ValueError:
        raise KeyListError(f"{what}: {s!r} is not a valid time") from None


def _entry(k: LabelKey) -> dict[str, Any]:
    return {
        "kid": k.key_id,
        "alg": "Ed25519",
        "pub": b64url(k.public_key),
        "producer": k.producer,
        "status": k.status.value,
        "not_before": _time(k.not_before),
        "not_after": None if k.not_after is None else _time(k.not_after),
    }


def build_key_list(
    keys: Iterable[LabelKey], signer: Ed25519PrivateKey, issued_at: _dt.datetime
) -> bytes:
    """Return the signed key list document (RFC 8785 JSON bytes), keys sorted by (kid, pub).

    :raises LabelError: if ``issued_at`` is naive.
    """
    doc: dict[str, Any] = {
        "v": 1,
        "type": _TYPE,
        "issuer": key_id_for(_raw_public(signer.public_key())),
        "issued_at": _time(issued_at),
        "keys": sorted((_entry(k) for k in keys), key=lambda e: (e["kid"], e["pub"])),
    }
    doc["sig"] = b64url(signer.sign(KEY_LIST_CONTEXT + rfc8785.dumps(doc)))
    return rfc8785.dumps(doc)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise KeyListError(f"key list: duplicate member {k!r}")
        out[k] = v
    return out


def _key(e: Any, i: int) -> LabelKey:
    if not isinstance(e, dict) or set(e) != _KEY_FIELDS:
        raise KeyListError(
            f"key list: keys[{i}] must have exactly the members {sorted(_KEY_FIELDS)}"
        )
    if e["alg"] != "Ed25519":
        raise KeyListError(f"key list: keys[{i}]: unsupported alg {e['alg']!r}")
    try:
        pub = b64url_decode(str(e["pub"]), length=32, what=f"keys[{i}].pub")
        status = KeyStatus(e["status"])
    except (LabelError, ValueError) as err:
        raise KeyListError(f"key list: {err}") from None
    if e["kid"] != key_id_for(pub):
        raise KeyListError(f"key list: keys[{i}]: kid {e['kid']!r} does not match its public key")
    if not isinstance(e["producer"], str):
        raise KeyListError(f"key list: keys[{i}]: producer must be a string")
    nb = _parse_time(e["not_before"], f"keys[{i}].not_before")
    na = None if e["not_after"] is None else _parse_time(e["not_after"], f"keys[{i}].not_after")
    try:
        return LabelKey(pub, e["producer"], status, nb, na)
    except LabelError as err:
        raise KeyListError(f"key list: keys[{i}]: {err}") from None


def verify_key_list(data: bytes, trusted_pubkey: Ed25519PublicKey | bytes) -> KeyList:
    """Verify a signed key list against the pinned service key and return its content.

    Steps: (1) parse JSON (no duplicate members); (2) check ``v``/``type``;
    (3) verify ``sig`` over ``TK1\\n`` + RFC 8785 bytes of the rest; (4) check
    each entry (``kid`` must match ``pub``).  Callers that cache a list should
    refuse one whose ``issued_at`` is older than the cached one (rollback).

    :raises KeyListError: naming the failed step.
    """
    pub = (
        trusted_pubkey
        if isinstance(trusted_pubkey, Ed25519PublicKey)
        else Ed25519PublicKey.from_public_bytes(trusted_pubkey)
    )
    try:
        doc = json.loads(data, object_pairs_hook=_no_duplicates)
    except (ValueError, UnicodeDecodeError) as e:
        if isinstance(e, KeyListError):
            raise
        raise KeyListError(f"key list: not JSON: {e}") from None
    if not isinstance(doc, dict) or set(doc) != _DOC_FIELDS:
        raise KeyListError(
            f"key list: must be an object with exactly the members {sorted(_DOC_FIELDS)}"
        )
    if doc["v"] != 1 or doc["type"] != _TYPE:
        raise KeyListError(f"key list: unsupported v={doc['v']!r} type={doc['type']!r}")
    sig_text = doc.pop("sig")
    try:
        sig = b64url_decode(str(sig_text), length=64, what="key list signature")
        pub.verify(sig, KEY_LIST_CONTEXT + rfc8785.dumps(doc))
    except (LabelError, InvalidSignature, rfc8785.CanonicalizationError):
        raise KeyListError(
            "key list: signature does not verify under the trusted service key"
        ) from None
    if doc["issuer"] != key_id_for(_raw_public(pub)):
        raise KeyListError(f"key list: issuer {doc['issuer']!r} is not the trusted service key")
    if not isinstance(doc["keys"], list):
        raise KeyListError("key list: keys must be an array")
    keys = tuple(_key(e, i) for i, e in enumerate(doc["keys"]))
    return KeyList(doc["issuer"], _parse_time(doc["issued_at"], "issued_at"), keys)
