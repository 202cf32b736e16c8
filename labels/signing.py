"""Sign and verify labels: a compact Ed25519 signature carried in the Digital Link.

The signed message (version ``TL1``) is host-independent, so a label verifies
whichever resolver host or path stem prints it::

    message = b"TL1" LF element-string LF key-id

* ``element-string``: the GS1 element string (GenSpecs §7.8.5, separator
  GS = 0x1D) of, in this order and only when present,
  (01) GTIN-14, (11) production date, (17) expiry date, (10) lot, (21) serial;
* ``key-id``: the 6 ASCII characters of the ``k`` parameter.

The URI carries the signature and key id as the last two query parameters::

    https://<host>[/<stem>]/01/<gtin14>/10/<lot>/21/<serial>?[11=YYMMDD&][17=YYMMDD&]k=<kid>&s=<sig>

``s`` is the 64-byte Ed25519 signature (RFC 8032), base64url without padding
(86 characters); neither name can be mistaken for a numeric GS1 AI, and GS1
resolvers ignore non-numeric parameters.  A later message version will use a
new parameter name, never a new meaning of ``s``.  docs/label-format.md is
the normative description.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from labels import gs1
from labels.digital_link import DigitalLink, gtin_link
from labels.errors import (
    KeyNotValidError,
    KeyRevokedError,
    LabelError,
    MalformedSignatureError,
    SignatureError,
    UnknownKeyError,
)
from labels.keys import KeyStatus, LabelKey, LabelKeyring, LabelSigningKey, b64url, b64url_decode

__all__ = [
    "KID_PARAM",
    "MESSAGE_VERSION",
    "SIG_PARAM",
    "SignedLabel",
    "VerifiedLabel",
    "label_message",
    "label_uri",
    "sign_label",
    "verify_label",
]

MESSAGE_VERSION = b"TL1"
SIG_PARAM = "s"
KID_PARAM = "k"
_SIGNED_ATTRIBUTES = ("11", "17")  # query attributes covered by the signature


def _yymmdd(d: _dt.date | str | None, ai: str) -> str | None:
    if d is None:
        return None
    return gs1.validate_date(d.strftime("%y%m%d") if isinstance(d, _dt.date) else d, ai)


def label_message(
    gtin: str,
    lot: str,
    serial: str,
    key_id: str,
    *,
    production: str | None = None,
    expiry: str | None = None,
) -> bytes:
    """Return the exact bytes that are signed for a label (see the module docstring).

    :raises LabelError: (a subclass) for an invalid GTIN-14, lot, serial or date.
    """
    ais = [("01", gtin), ("11", production), ("17", expiry), ("10", lot), ("21", serial)]
    es = gs1.element_string([(ai, v) for ai, v in ais if v is not None])
    return MESSAGE_VERSION + b"\n" + es.encode("ascii") + b"\n" + key_id.encode("ascii")


@dataclass(frozen=True)
class SignedLabel:
    """A label's identifiers and its signature, ready to become a URI."""

    gtin: str
    lot: str
    serial: str
    key_id: str
    signature: bytes
    production: str | None = None
    expiry: str | None = None

    def link(self, base: str) -> DigitalLink:
        """Return the signed Digital Link under resolver ``base`` (e.g. ``https://t.example.cn``).

        :raises DigitalLinkError: if ``base`` is not a valid resolver base.
        """
        attrs = [
            (ai, v) for ai, v in (("11", self.production), ("17", self.expiry)) if v is not None
        ]
        params = [(KID_PARAM, self.key_id), (SIG_PARAM, b64url(self.signature))]
        return gtin_link(base, self.gtin, self.lot, self.serial, attributes=attrs, params=params)

    def uri(self, base: str) -> str:
        """Return the signed URI text under resolver ``base``."""
        return self.link(base).uri()


def sign_label(
    gtin: str,
    lot: str,
    serial: str,
    key: LabelSigningKey,
    *,
    production: _dt.date | str | None = None,
    expiry: _dt.date | str | None = None,
) -> SignedLabel:
    """Sign one item label (GTIN + lot + serial, optional production and expiry dates).

    ``gtin`` may be GTIN-8/12/13/14; dates are ``date`` objects or YYMMDD.

    :raises LabelError: (a subclass) naming the first invalid value.
    """
    gtin14 = gs1.validate_gtin(gtin)
    gs1.validate_lot(lot)
    gs1.validate_serial(serial)
    prod, exp = _yymmdd(production, "11"), _yymmdd(expiry, "17")
    msg = label_message(gtin14, lot, serial, key.key_id, production=prod, expiry=exp)
    return SignedLabel(gtin14, lot, serial, key.key_id, key.sign(msg), prod, exp)


def label_uri(
    base: str,
    gtin: str,
    lot: str,
    serial: str,
    key: LabelSigningKey,
    *,
    production: _dt.date | str | None = None,
    expiry: _dt.date | str | None = None,
) -> str:
    """Return the signed label URI in one call (see :func:`sign_label`).

    :raises LabelError: (a subclass) naming the first invalid value.
    """
    return sign_label(gtin, lot, serial, key, production=production, expiry=expiry).uri(base)


@dataclass(frozen=True)
class VerifiedLabel:
    """The outcome of a successful :func:`verify_label`: what the signature vouches for."""

    gtin: str
    lot: str
    serial: str
    production: str | None
    expiry: str | None
    key: LabelKey
    canonical_uri: str


def _one(link: DigitalLink, name: str) -> str:
    values = link.param(name)
    if len(values) != 1:
        raise MalformedSignatureError(
            f"step 2: parameter {name!r} must appear exactly once, found {len(values)}"
        )
    return values[0]


def _matches(key: LabelKey, message: bytes, signature: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(key.public_key).verify(signature, message)
    except InvalidSignature:
        return False
    return True


def verify_label(link: DigitalLink, keyring: LabelKeyring, now: _dt.datetime) -> VerifiedLabel:
    """Verify the signature of a parsed label link at time ``now`` and return what it vouches for.

    Steps: (1) shape: key (01) with qualifiers exactly 10 then 21, and no query
    attribute other than 11 and 17; (2) exactly one ``k`` and one ``s``, both
    canonical base64url; (3) candidate keys: every key with id ``k`` (an id is
    only a hint); (4) rebuild the ``TL1`` message and check the signature under
    each candidate; (5) a matching key must be non-revoked and valid at ``now``.

    :raises MalformedSignatureError: steps 1-2.
    :raises UnknownKeyError: step 3, no key has the id.
    :raises KeyRevokedError: the only matching key is revoked.
    :raises KeyNotValidError: the only matching key is outside its validity period.
    :raises SignatureError: no candidate key matches the signature.
    """
    # (1) shape
    if link.key_ai != "01" or [ai for ai, _ in link.qualifiers] != ["10", "21"]:
        raise MalformedSignatureError("step 1: a signed label is /01/<gtin>/10/<lot>/21/<serial>")
    unsigned = [ai for ai, _ in link.attributes if ai not in _SIGNED_ATTRIBUTES]
    if unsigned:
        raise MalformedSignatureError(
            f"step 1: attribute ({unsigned[0]}) is not covered by the label signature"
        )
    # (2) parameters
    kid_text, sig_text = _one(link, KID_PARAM), _one(link, SIG_PARAM)
    try:
        b64url_decode(kid_text, length=4, what=f"step 2: key id {kid_text!r}")
        signature = b64url_decode(sig_text, length=64, what="step 2: signature")
    except LabelError as e:
        raise MalformedSignatureError(str(e)) from None
    # (3) candidates
    candidates = keyring.candidates(kid_text)
    if not candidates:
        raise UnknownKeyError(f"step 3: no label key with id {kid_text!r}")
    # (4) signature under each candidate
    assert link.gtin is not None and link.lot is not None and link.serial is not None  # step 1
    prod, exp = link.attribute("11"), link.attribute("17")
    message = label_message(link.gtin, link.lot, link.serial, kid_text, production=prod, expiry=exp)
    matching = [k for k in candidates if _matches(k, message, signature)]
    # (5) status and validity of the matching key
    for k in matching:
        if k.status is not KeyStatus.REVOKED and k.valid_at(now):
            return VerifiedLabel(
                link.gtin, link.lot, link.serial, prod, exp, k, link.canonical_uri()
            )
    if any(k.status is KeyStatus.REVOKED for k in matching):
        raise KeyRevokedError(f"step 5: label key {kid_text!r} ({matching[0].producer}) is revoked")
    if matching:
        raise KeyNotValidError(f"step 5: label key {kid_text!r} is not valid at {now.isoformat()}")
    raise SignatureError(
        f"step 4: signature does not verify under any of {len(candidates)} key(s) "
        f"with id {kid_text!r}"
    )
