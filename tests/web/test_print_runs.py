"""``flask labels print``: reserve, record in the ledger, sign, render; resume without gaps."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pytest
import zxingcpp
from flask import Flask
from flask.testing import FlaskCliRunner
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from labels.digital_link import parse_digital_link
from labels.signing import verify_label
from ledger import sequencer
from ledger.actor import Actor
from ledger.models import LogEntry
from ledger.signer import LogSigner
from trace import label_keys, print_runs, services
from web import printing

GTIN, LOT = "06901234567892", "L2026P"
PRODUCER = Actor("subject:producer-1", "producer")


@pytest.fixture
def batch(db_session: Session, signer: LogSigner) -> None:
    with sequencer.write_transaction(db_session, signer) as writer:
        services.register_product(writer, PRODUCER, gtin=GTIN, name="遂宁矿泉水", category="food")
        services.create_batch(writer, PRODUCER, gtin=GTIN, lot=LOT, production_date="2026-11-01",
                              expiry_date="2027-11-01")


def _serialisations(session: Session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(LogEntry)
                          .where(LogEntry.kind == "trace.serialisation")) or 0


def _zip_serials(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return sorted(name.rsplit("_", 1)[1].rsplit(".", 1)[0] for name in archive.namelist())


def test_print_records_serials_and_writes_labels_that_decode_and_verify(
    runner: FlaskCliRunner, batch: None, db_session: Session, tmp_path: Path
) -> None:
    out = tmp_path / "run.zip"
    result = runner.invoke(args=["labels", "print", "--gtin", GTIN, "--lot", LOT, "--count", "12",
                                 "--format", "png-zip", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote 12 labels" in result.output
    assert _serialisations(db_session) == 12
    assert _zip_serials(out) == [f"{n:010d}" for n in range(1, 13)]
    with zipfile.ZipFile(out) as archive:
        image = Image.open(io.BytesIO(archive.read(archive.namelist()[0])))
    decoded = [r.text for r in zxingcpp.read_barcodes(image) if r.format == zxingcpp.BarcodeFormat.QRCode]
    link = parse_digital_link(decoded[0])
    verified = verify_label(link, label_keys.keyring(db_session), datetime.now(timezone.utc))
    assert (verified.gtin, verified.lot) == (GTIN, LOT)


def test_a_second_run_continues_the_numbering(runner: FlaskCliRunner, batch: None,
                                              db_session: Session, tmp_path: Path) -> None:
    for name in ("a.zpl", "b.zpl"):
        result = runner.invoke(args=["labels", "print", "--gtin", GTIN, "--lot", LOT, "--count",
                                     "5", "--format", "zpl", "--out", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
    assert "0000000005" in (tmp_path / "a.zpl").read_text()
    assert "0000000006" in (tmp_path / "b.zpl").read_text()
    assert "0000000005" not in (tmp_path / "b.zpl").read_text()
    assert _serialisations(db_session) == 10


def test_an_interrupted_run_resumes_without_duplicating_or_skipping(
    app: Flask, runner: FlaskCliRunner, batch: None, db_session: Session, tmp_path: Path
) -> None:
    out = tmp_path / "run.zip"
    with app.app_context():
        run = printing.reserve(PRODUCER, GTIN, LOT, 300)
        run_id = run.id

        def crash(done: int) -> None:
            if done >= 100:
                raise KeyboardInterrupt("power cut")

        with pytest.raises(KeyboardInterrupt):
            printing.render_to_file(run, out, "png-zip", crash)
    assert not out.exists() and (tmp_path / "run.zip.part").exists()
    result = runner.invoke(args=["labels", "print", "--resume", run_id, "--format", "png-zip",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert _zip_serials(out) == [f"{n:010d}" for n in range(1, 301)]
    assert _serialisations(db_session) == 300
    db_session.expire_all()
    assert print_runs.get_run(db_session, run_id).rendered_format == "png-zip"


@pytest.mark.parametrize("args,message", [
    (["--gtin", "06901234567893", "--lot", LOT, "--count", "1"], "check digit"),
    (["--gtin", "06901234567809", "--lot", LOT, "--count", "1"], "unknown product"),
    (["--gtin", GTIN, "--lot", "NOPE", "--count", "1"], "NOPE"),
    (["--gtin", GTIN, "--lot", LOT, "--count", "0"], "0"),
    (["--resume", "feedfeedfeed"], "no print run"),
    (["--gtin", GTIN], "required"),
])
def test_bad_print_requests_exit_non_zero_with_a_message(
    runner: FlaskCliRunner, batch: None, db_session: Session, tmp_path: Path,
    args: list[str], message: str
) -> None:
    result = runner.invoke(args=["labels", "print", *args, "--format", "pdf",
                                 "--out", str(tmp_path / "x.pdf")])
    assert result.exit_code != 0
    assert message in result.output
    assert _serialisations(db_session) == 0


def test_print_with_pins_writes_them_once_and_stores_only_hashes(
    app: Flask, runner: FlaskCliRunner, batch: None, db_session: Session, tmp_path: Path
) -> None:
    import csv

    from trace import pins
    from trace.identifiers import item_subject

    pin_file = tmp_path / "pins.csv"
    result = runner.invoke(args=["labels", "print", "--gtin", GTIN, "--lot", LOT, "--count", "3",
                                 "--format", "zpl", "--out", str(tmp_path / "l.zpl"),
                                 "--pins", str(pin_file)])
    assert result.exit_code == 0, result.output
    assert pin_file.stat().st_mode & 0o777 == 0o600
    with pin_file.open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["serial"] for r in rows] == ["0000000001", "0000000002", "0000000003"]
    subject = item_subject(GTIN, LOT, rows[0]["serial"])
    checked = pins.check_pin(db_session, subject, rows[0]["pin"], app.config["MASTER_KEY"],
                             datetime.now(timezone.utc), "test-client")
    assert checked.status == "first_use"
    if app.extensions["engine"].dialect.name == "sqlite":
        raw = Path(app.extensions["engine"].url.database).read_bytes()
        assert all(r["pin"].encode() not in raw for r in rows)
    resumed = runner.invoke(args=["labels", "print", "--resume", "x", "--format", "zpl",
                                  "--out", str(tmp_path / "m.zpl"), "--pins", str(pin_file)])
    assert resumed.exit_code != 0 and "only with a new run" in resumed.output
