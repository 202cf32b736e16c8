"""``/.well-known/trace-keys``: the signed list of label verifying keys, for offline verifiers.

Like the EU Digital COVID Certificate trust list: one document, signed by the
service's trust-list key, listing every producer key with its status and validity.
A verifier pins the trust-list key (``/.well-known/trace-keys.pub``) once, then
refreshes the list whenever it is online.
"""

from __future__ import annotations

import base64
import secrets
from datetime import datetime, timezone
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from flask import Blueprint, Response, current_app

from labels.keylist import build_key_list
from ledger.signer import secret_file
from trace import label_keys
from web.db import get_session

__all__ = ["bp", "trust_list_key"]

bp = Blueprint("wellknown", __name__, url_prefix="/.well-known")


def trust_list_key() -> Ed25519PrivateKey:
    """Return the instance's trust-list signing key (created once in the instance folder)."""
    seed = secret_file(Path(current_app.instance_path) / "trust-list.key",
                       lambda: base64.b64encode(secrets.token_bytes(32)) + b"\n")
    return Ed25519PrivateKey.from_private_bytes(base64.b64decode(seed.strip()))


@bp.get("/trace-keys")
def trace_keys() -> Response:
    """Return the signed key list (RFC 8785 JSON; see docs/label-format.md)."""
    document = build_key_list(label_keys.keyring(get_session()), trust_list_key(),
                              datetime.now(timezone.utc))
    return Response(document, mimetype="application/json",
                    headers={"Cache-Control": "public, max-age=300"})


@bp.get("/trace-keys.pub")
def trace_keys_pub() -> Response:
    """Return the trust-list public key, base64url (32 raw Ed25519 bytes), to pin."""
    raw = trust_list_key().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return Response(base64.urlsafe_b64encode(raw).rstrip(b"=").decode() + "\n",
                    mimetype="text/plain")
