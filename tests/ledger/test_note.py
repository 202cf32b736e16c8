"""Tests of ledger.note: C2SP signed notes, checkpoints and Ed25519 log keys."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger import note
from ledger.errors import CheckpointError
from ledger.merkle import EMPTY_ROOT
from ledger.note import (
    Checkpoint,
    LogSigningKey,
    LogVerifierKey,
    NoteVerifier,
    format_checkpoint,
    generate_signer,
    parse_checkpoint,
    sign_note,
    signer_from_private_bytes,
    signer_from_skey,
    verify_checkpoint,
    verify_note,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors"


def load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


GO = load("signed_note_golang.json")
C2SP = load("c2sp_examples.json")
TEXT: str = GO["text"]
PETER_SIG: str = GO["peter_sig_line"]
ENOCH_SIG: str = GO["enoch_sig_line"]
PETER = NoteVerifier.from_vkey(GO["peter_vkey"])
ENOCH = NoteVerifier.from_vkey(GO["enoch_vkey"])


# --- keys ------------------------------------------------------------------------------


def test_from_vkey_parses_the_published_golang_key() -> None:
    assert PETER.name == "PeterNeumann"
    assert PETER.key_id == 0xC74F20A3
    assert PETER.vkey == GO["peter_vkey"]


def test_from_vkey_rejects_every_truncation_and_single_byte_change() -> None:
    vkey: str = GO["peter_vkey"]
    for i in range(len(vkey) + 1):
        for j in range(i + 1, len(vkey) + 1):
            if (i, j) != (0, len(vkey)):
                with pytest.raises(CheckpointError):
                    NoteVerifier.from_vkey(vkey[i:j])
    for i in range(len(vkey)):
        with pytest.raises(CheckpointError):
            NoteVerifier.from_vkey(vkey[:i] + chr(ord(vkey[i]) + 1) + vkey[i + 1 :])


@pytest.mark.parametrize("vkey", GO["bad_vkeys"])
def test_from_vkey_rejects_wrong_length_and_unknown_algorithm(vkey: str) -> None:
    with pytest.raises(CheckpointError):
        NoteVerifier.from_vkey(vkey)


def test_signer_from_skey_loads_the_published_golang_key() -> None:
    signer = signer_from_skey(GO["peter_skey"])
    assert isinstance(signer, LogSigningKey)
    assert signer.vkey == GO["peter_vkey"]
    assert signer.to_skey() == GO["peter_skey"]


def test_signer_from_skey_rejects_every_truncation_and_single_byte_change() -> None:
    skey: str = GO["peter_skey"]
    for i in range(len(skey) + 1):
        for j in range(i + 1, len(skey) + 1):
            if (i, j) != (0, len(skey)):
                with pytest.raises(CheckpointError):
                    signer_from_skey(skey[i:j])
    for i in range(len(skey)):
        with pytest.raises(CheckpointError):
            signer_from_skey(skey[:i] + chr(ord(skey[i]) + 1) + skey[i + 1 :])


def test_generated_keys_round_trip_through_raw_bytes_and_skey() -> None:
    signer = generate_signer("example.com/log")
    again = signer_from_private_bytes("example.com/log", signer.private_bytes())
    assert again.vkey == signer.vkey
    assert signer_from_skey(signer.to_skey()).vkey == signer.vkey
    verifier = signer.verifier()
    assert isinstance(verifier, LogVerifierKey)
    assert LogVerifierKey.from_vkey(signer.vkey) == verifier
    assert type(LogVerifierKey.from_vkey(signer.vkey)) is LogVerifierKey
    assert "PRIVATE" not in repr(signer)


def test_signer_from_private_bytes_rejects_a_key_that_is_not_32_bytes() -> None:
    with pytest.raises(CheckpointError, match="32 bytes"):
        signer_from_private_bytes("example.com/log", bytes(31))


@pytest.mark.parametrize("name", ["", "has space", "a+b", "tab\there", "nbsp\u00a0"])
def test_keys_refuse_invalid_names(name: str) -> None:
    with pytest.raises(CheckpointError, match="key name"):
        generate_signer(name)


def test_key_id_is_sha256_of_name_newline_type_and_key() -> None:
    raw = base64.b64decode(GO["peter_vkey"].split("+")[2])
    assert note.key_id("PeterNeumann", raw[0], raw[1:]) == 0xC74F20A3


# --- signing and verifying notes ---------------------------------------------------------


def test_sign_note_reproduces_the_published_golang_signature() -> None:
    assert sign_note(TEXT, signer_from_skey(GO["peter_skey"])) == GO["signed_by_peter"]


def test_verify_note_accepts_the_published_golang_note() -> None:
    verified = verify_note(GO["signed_by_peter"], [PETER])
    assert verified.text == TEXT
    assert verified.signers == ("PeterNeumann",)
    text, signers = verified
    assert (text, signers) == (TEXT, ("PeterNeumann",))


def test_verify_note_ignores_signatures_from_unknown_keys() -> None:
    assert verify_note(TEXT + "\n" + PETER_SIG + ENOCH_SIG, [PETER]).signers == ("PeterNeumann",)
    assert verify_note(TEXT + "\n" + PETER_SIG + ENOCH_SIG, [ENOCH]).signers == ("EnochRoot",)


def test_verify_note_reports_every_known_key_that_signed() -> None:
    verified = verify_note(TEXT + "\n" + PETER_SIG + ENOCH_SIG, [ENOCH, PETER])
    assert verified.signers == ("PeterNeumann", "EnochRoot")


def test_verify_note_rejects_a_note_without_a_known_key() -> None:
    with pytest.raises(CheckpointError, match="no signature from a known key"):
        verify_note(TEXT + "\n" + PETER_SIG + ENOCH_SIG, [])


def test_verify_note_rejects_the_whole_note_if_a_known_key_fails() -> None:
    tampered = PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
    with pytest.raises(CheckpointError, match="invalid signature for key PeterNeumann\\+c74f20a3"):
        verify_note(TEXT + "\n" + tampered, [PETER])
    with pytest.raises(CheckpointError, match="invalid signature"):
        verify_note(TEXT + "\n" + ENOCH_SIG + tampered, [PETER, ENOCH])


def test_verify_note_rejects_a_signature_over_other_text() -> None:
    with pytest.raises(CheckpointError, match="invalid signature"):
        verify_note(TEXT.replace("problem", "question") + "\n" + PETER_SIG, [PETER])


def test_verify_note_tries_every_key_with_matching_name_and_id() -> None:
    impostor = NoteVerifier("PeterNeumann", Ed25519PrivateKey.generate().public_key())
    impostor.key_id = PETER.key_id  # a key ID collision: the ID is only a hint
    assert verify_note(GO["signed_by_peter"], [impostor, PETER]).signers == ("PeterNeumann",)
    with pytest.raises(CheckpointError, match="invalid signature"):
        verify_note(GO["signed_by_peter"], [impostor])


def test_verify_note_ignores_keys_sharing_only_the_name_or_only_the_id() -> None:
    misnamed = PETER_SIG.replace("PeterNeumann", "CarmenSandiego")
    with pytest.raises(CheckpointError, match="no signature from a known key"):
        verify_note(TEXT + "\n" + misnamed, [PETER])
    wrong_id = PETER_SIG.replace("x08g", "xxxx")
    with pytest.raises(CheckpointError, match="no signature from a known key"):
        verify_note(TEXT + "\n" + wrong_id, [PETER])


def test_verify_note_accepts_sixteen_signatures() -> None:
    signers = [generate_signer(f"witness{i}.example") for i in range(15)] + [signer_from_skey(GO["peter_skey"])]
    lines = "".join(sign_note(TEXT, s)[len(TEXT) + 1 :] for s in signers)
    verified = verify_note(TEXT + "\n" + lines, [s.verifier() for s in signers])
    assert len(verified.signers) == 16
    assert verify_note(TEXT + "\n" + lines, [PETER]).signers == ("PeterNeumann",)


def test_verify_note_refuses_more_than_100_signatures() -> None:
    with pytest.raises(CheckpointError, match="more than 100"):
        verify_note(TEXT + "\n" + PETER_SIG * 101, [PETER])
    assert verify_note(TEXT + "\n" + PETER_SIG * 100, [PETER]).signers == ("PeterNeumann",)


@pytest.mark.parametrize(
    "message",
    [
        TEXT,
        TEXT + "\n",
        TEXT + "\n" + PETER_SIG[:-1],
        "\x01" + TEXT + "\n" + PETER_SIG,
        TEXT + "\n" + "— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=",
        TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
        TEXT + "\n" + PETER_SIG.replace("\u2014", "-"),
        TEXT + "\n" + "— PeterNeumann\n",
        TEXT + "\n" + "— PeterNeumann AAAA\n",
        TEXT + "\n" + "— PeterNeumann !!!!\n",
        TEXT + "\r\n" + PETER_SIG,
        "\ud800" + TEXT + "\n" + PETER_SIG,
    ],
    ids=range(12),
)
def test_verify_note_rejects_malformed_notes(message: str) -> None:
    # The first six are golang.org/x/mod sumdb/note TestOpen's badMsgs.
    with pytest.raises(CheckpointError):
        verify_note(message, [PETER])


def test_verify_note_splits_text_at_the_last_blank_line() -> None:
    # C2SP signed-note: the text MAY contain empty lines.
    signer = generate_signer("quasimodo.example/salvatore")
    signed = sign_note(C2SP["signed_note"]["text"], signer)
    assert verify_note(signed, [signer.verifier()]).text == C2SP["signed_note"]["text"]
    with pytest.raises(CheckpointError, match="no signature from a known key"):
        verify_note(C2SP["signed_note"]["note"], [signer.verifier()])


@pytest.mark.parametrize("text", ["no newline", "", "bell\x07\n", "cr\r\n"])
def test_sign_note_rejects_text_without_final_newline_or_with_control_characters(text: str) -> None:
    with pytest.raises(CheckpointError):
        sign_note(text, generate_signer("example.com/log"))


# --- checkpoints -----------------------------------------------------------------------


def test_parse_checkpoint_reads_the_c2sp_example() -> None:
    example = C2SP["checkpoint"]
    text = example["note"].split("\n\n")[0] + "\n"
    checkpoint = parse_checkpoint(text)
    assert checkpoint == Checkpoint(example["origin"], example["size"], base64.b64decode(example["root_b64"]))
    assert format_checkpoint(checkpoint) == text


def test_format_checkpoint_writes_three_lines_and_extensions() -> None:
    checkpoint = Checkpoint("example.com/log", 0, EMPTY_ROOT, ("ext one", "ext two"))
    text = format_checkpoint(checkpoint)
    assert text == "example.com/log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\next one\next two\n"
    assert parse_checkpoint(text) == checkpoint


@pytest.mark.parametrize(
    "text",
    [
        "example.com/log\n1\n",
        "example.com/log\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        "example.com/log\n01\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
        "example.com/log\n-1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
        "example.com/log\n+1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
        "example.com/log\n 1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
        "example.com/log\n18446744073709551616\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
        "example.com/log\n0x1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
        "example.com/log\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU\n",
        "example.com/log\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV=\n",
        "example.com/log\n1\nAAAA\n",
        "example.com/log\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\nlate\n",
        "\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
    ],
)
def test_parse_checkpoint_rejects_malformed_text(text: str) -> None:
    with pytest.raises(CheckpointError):
        parse_checkpoint(text)


@pytest.mark.parametrize(
    "checkpoint",
    [
        Checkpoint("", 1, EMPTY_ROOT),
        Checkpoint("a\nb", 1, EMPTY_ROOT),
        Checkpoint("example.com/log", -1, EMPTY_ROOT),
        Checkpoint("example.com/log", 2**64, EMPTY_ROOT),
        Checkpoint("example.com/log", 1, EMPTY_ROOT[:31]),
        Checkpoint("example.com/log", 1, EMPTY_ROOT, ("",)),
    ],
)
def test_format_checkpoint_rejects_unwritable_fields(checkpoint: Checkpoint) -> None:
    with pytest.raises(CheckpointError):
        format_checkpoint(checkpoint)


def test_verify_checkpoint_checks_signature_text_and_origin() -> None:
    signer = generate_signer("example.com/log")
    checkpoint = Checkpoint("example.com/log", 5, EMPTY_ROOT)
    signed = sign_note(format_checkpoint(checkpoint), signer)
    assert verify_checkpoint(signed, [signer.verifier()], "example.com/log") == checkpoint
    with pytest.raises(CheckpointError, match="^origin: "):
        verify_checkpoint(signed, [signer.verifier()], "example.com/other")
    with pytest.raises(CheckpointError, match="^signature: "):
        verify_checkpoint(signed, [generate_signer("example.com/log").verifier()], "example.com/log")
    not_a_checkpoint = sign_note("just one line\n", signer)
    with pytest.raises(CheckpointError, match="^text: "):
        verify_checkpoint(not_a_checkpoint, [signer.verifier()], "example.com/log")


def test_verify_checkpoint_accepts_only_log_verifier_keys() -> None:
    signer = generate_signer("example.com/log")
    signed = sign_note(format_checkpoint(Checkpoint("example.com/log", 0, EMPTY_ROOT)), signer)
    plain = NoteVerifier.from_vkey(signer.vkey)
    with pytest.raises(TypeError):
        verify_checkpoint(signed, [plain], "example.com/log")  # type: ignore[list-item]
