"""Real-name details of natural persons: salted commitment on the ledger, encrypted off it.

ARCHITECTURE.md "Personal data … never enters an entry in clear": the ledger holds
``SHA-256("credit/realname/v1" 0x00 || salt || RFC 8785 JSON of the details)``.  The
details and the salt are AES-256-GCM encrypted under a key of their own (one per
subject), and that key is wrapped (AES key wrap, RFC 3394) by a key derived from the
instance ``MASTER_KEY`` (HKDF-SHA256, RFC 5869).  Erasure (PIPL Art 47) deletes the
wrapped key: the ciphertext, and the commitment in the ledger, can no longer be opened
or tested, and no ledger hash changes (crypto-shredding).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import asdict, dataclass
from datetime import datetime

import rfc8785
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap
from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from credit.errors import BadRealName, CreditError, Duplicate, Erased
from credit.models import PiiData, PiiKey

__all__ = ["RealName", "Opened", "COMMITMENT_SCHEME", "commitment", "seal", "open_real_name",
           "shred", "mask_name"]

COMMITMENT_SCHEME = "credit/realname/v1"  # versioned (STYLE 16)
_ID_TYPES = frozenset({"resident_id", "passport", "hk_macao_permit", "taiwan_permit"})


@dataclass(frozen=True)
class RealName:
    """A natural person's real-name details (实名信息); never written to the ledger."""

    name: str
    id_number: str
    id_type: str = "resident_id"  # 居民身份证, GB 11643-1999
    phone: str | None = None

    def validated(self) -> RealName:
        """Return the details normalised (ID number upper case).

        :raises BadRealName: for an empty or long name, an unknown ID type, or a
            resident ID failing GB 11643 (length, birth date or check character).
        """
        name = self.name.strip()
        if not name or len(name) > 100:
            raise BadRealName(f"real name must be 1 to 100 characters, got {self.name!r}")
        if self.id_type not in _ID_TYPES:
            raise BadRealName(f"unknown ID type {self.id_type!r}")
        number = self.id_number.strip().upper()
        if self.id_type == "resident_id":
            try:
                number = ric.validate(number)
            except ValidationError as exc:
                raise BadRealName(f"resident ID number fails GB 11643: {exc}") from None
        elif not 5 <= len(number) <= 30:
            raise BadRealName(f"{self.id_type} number must be 5 to 30 characters")
        return RealName(name, number, self.id_type, self.phone)


@dataclass(frozen=True)
class Opened:
    """Decrypted details with the salt that opens their ledger commitment."""

    details: RealName
    salt: bytes
    commitment: str


def _derive(master_key: bytes, purpose: bytes) -> bytes:
    if len(master_key) < 16:
        raise ValueError("MASTER_KEY must be at least 16 bytes")
    return HKDF(hashes.SHA256(), 32, salt=None, info=purpose).derive(master_key)


def commitment(details: RealName, salt: bytes) -> str:
    """Return the hex commitment to ``details`` under ``salt`` (what the ledger holds)."""
    data = rfc8785.dumps(asdict(details))
    return hashlib.sha256(COMMITMENT_SCHEME.encode() + b"\x00" + salt + data).hexdigest()


def _blind_index(master_key: bytes, details: RealName) -> str:
    key = _derive(master_key, b"credit/pii-index/v1")
    message = f"{details.id_type}:{details.id_number}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _aad(subject_id: str) -> bytes:
    return f"{COMMITMENT_SCHEME}:{subject_id}".encode()


def seal(session: Session, master_key: bytes, subject_id: str, details: RealName,
         now: datetime) -> str:
    """Encrypt ``details`` for ``subject_id`` under a new key and return their commitment.

    :raises BadRealName: when the details are malformed.
    :raises Duplicate: when the same person (ID type and number) is registered already.
    """
    details = details.validated()
    index = _blind_index(master_key, details)
    if session.scalar(select(PiiData.subject_id).where(PiiData.blind_index == index)):
        raise Duplicate("this person is registered already (same ID number)")
    salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
    data_key = AESGCM.generate_key(256)
    plain = json.dumps({"details": asdict(details), "salt": base64.b64encode(salt).decode()})
    ciphertext = AESGCM(data_key).encrypt(nonce, plain.encode(), _aad(subject_id))
    wrapped = aes_key_wrap(_derive(master_key, b"credit/pii-kek/v1"), data_key)
    session.add(PiiKey(subject_id=subject_id, wrapped_key=wrapped, created_at=now))
    session.add(PiiData(subject_id=subject_id, nonce=nonce, ciphertext=ciphertext,
                        blind_index=index))
    return commitment(details, salt)


def open_real_name(session: Session, master_key: bytes, subject_id: str) -> Opened:
    """Decrypt the real-name details of ``subject_id``.

    :raises Erased: when the subject's key was destroyed (or it never had details).
    :raises CreditError: when ``master_key`` is not the one the key was wrapped with.
    """
    key_row = session.get(PiiKey, subject_id)
    data_row = session.get(PiiData, subject_id)
    if key_row is None or data_row is None:
        raise Erased(f"subject {subject_id} has no readable real-name details")
    try:
        data_key = aes_key_unwrap(_derive(master_key, b"credit/pii-kek/v1"), key_row.wrapped_key)
        plain = AESGCM(data_key).decrypt(data_row.nonce, data_row.ciphertext, _aad(subject_id))
    except (InvalidUnwrap, InvalidTag):
        raise CreditError(f"real-name details of {subject_id} do not open with this MASTER_KEY",
                          code="credit.pii_key") from None
    value = json.loads(plain)
    details = RealName(**value["details"])
    salt = base64.b64decode(value["salt"])
    return Opened(details, salt, commitment(details, salt))


def shred(session: Session, subject_id: str) -> None:
    """Destroy the subject's key and ciphertext; the ledger commitment becomes unopenable."""
    session.execute(delete(PiiKey).where(PiiKey.subject_id == subject_id))
    session.execute(delete(PiiData).where(PiiData.subject_id == subject_id))


def mask_name(name: str) -> str:
    """Return ``name`` masked for display: the first character and one ``*`` per other one."""
    return name[:1] + "*" * max(len(name) - 1, 1)
