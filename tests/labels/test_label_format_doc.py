"""docs/label-format.md: the worked example must still verify with the code as it is."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from pathlib import Path

from labels.digital_link import parse_digital_link
from labels.keylist import verify_key_list
from labels.keys import LabelSigningKey, b64url
from labels.signing import label_message, verify_label
from labels.symbols import qr

DOC = (Path(__file__).parents[2] / "docs/label-format.md").read_text(encoding="utf-8")
EXAMPLE = DOC[DOC.index("## 6. Worked example") :]


def _field(name: str) -> str:
    m = re.search(rf"^{name}\s+(\S+)", EXAMPLE, re.M)
    assert m, name
    return m.group(1)


def _block_after(marker: str) -> str:
    rest = EXAMPLE[EXAMPLE.index(marker) :]
    return rest.split("```", 2)[1].strip().removeprefix("json").strip()


def test_key_values_in_doc_are_derived_as_documented() -> None:
    key = LabelSigningKey.from_seed(bytes.fromhex(_field("seed")))
    assert key.public_key.hex() == _field("public key")
    assert hashlib.sha256(key.public_key).hexdigest() == _field("SHA-256")
    assert key.key_id == _field("kid") == b64url(bytes.fromhex(_field("SHA-256"))[:4])


def test_doc_message_and_signature_match_the_code() -> None:
    key = LabelSigningKey.from_seed(bytes.fromhex(_field("seed")))
    msg = label_message(
        "06901234567892",
        "LOT2026A01",
        "SN0000012345",
        key.key_id,
        production="260102",
        expiry="270630",
    )
    hexes = re.findall(r"^([0-9a-f]{64,})$", EXAMPLE, re.M)
    assert hexes[0] == msg.hex() and len(msg) == 70
    assert hexes[1] == key.sign(msg).hex()


def test_doc_uri_verifies_with_doc_key_list() -> None:
    uri = _block_after("URI (186 characters")
    key_list = _block_after("Key list signed by").encode("utf-8")
    m = re.search(r"public key `([0-9a-f]{64})`", EXAMPLE)
    assert m
    service_pub = bytes.fromhex(m.group(1))
    assert len(uri) == 186 and qr(uri).version == 9
    ring = verify_key_list(key_list, service_pub).keyring()
    v = verify_label(parse_digital_link(uri), ring, dt.datetime(2026, 3, 1, tzinfo=dt.UTC))
    assert (v.gtin, v.lot, v.serial, v.production, v.expiry) == (
        "06901234567892",
        "LOT2026A01",
        "SN0000012345",
        "260102",
        "270630",
    )
    assert v.key.producer == "内蒙古示例乳业有限公司"
