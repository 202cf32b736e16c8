"""Print runs as the CLI, the API and the producer console run them: reserve, then render."""

from __future__ import annotations

import csv
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from flask import current_app

from credit import errors as credit_errors
from credit.services import get_subject
from labels.runs import write_run
from ledger.actor import Actor
from trace import label_keys, pins, print_runs
from trace.identifiers import item_subject
from web.db import get_session
from web.glue import master_key, now, writing

__all__ = ["reserve", "render", "render_to_file", "producer_name"]


def producer_name(producer: str) -> str:
    """Return the producer's registered name (its id when it is not a credit subject)."""
    try:
        return get_subject(get_session(), producer).name
    except credit_errors.NotFound:
        return producer


def reserve(actor: Actor, gtin: str, lot: str, count: int, pins_out: Path | None = None,
            progress: Callable[[int], None] | None = None) -> print_runs.PrintRun:
    """Reserve serials and record their production; create the producer's label key if needed.

    With ``pins_out``, every item also gets a scratch-off PIN (only its keyed hash is
    stored) and the PINs are written to that CSV file (mode 0600) for the scratch-off
    printer: it appears only if the reservation committed, and cannot be made again.
    """
    partial = pins_out.with_name(pins_out.name + ".part") if pins_out else None
    try:
        with writing() as writer:
            run = print_runs.reserve_run(writer, actor, gtin=gtin, lot=lot, count=count,
                                         now=now(), progress=progress)
            try:
                label_keys.signing_key(writer.session, run.producer, master_key())
            except label_keys.LabelKeyError:
                label_keys.create_key(writer, actor, run.producer, master_key(), now())
            if partial is not None:
                _write_pins(writer.session, run, partial)
    except BaseException:
        if partial is not None:
            partial.unlink(missing_ok=True)
        raise
    if partial is not None and pins_out is not None:
        os.replace(partial, pins_out)
    return run


def _write_pins(session: Any, run: print_runs.PrintRun, path: Path) -> None:
    serials = print_runs.serials_of(run)
    issued = pins.issue_pins(session, [item_subject(run.gtin, run.lot, s) for s in serials],
                             master_key())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["gtin", "lot", "serial", "pin"])
        for serial in serials:
            out.writerow([run.gtin, run.lot, serial,
                          issued[item_subject(run.gtin, run.lot, serial)]])


def render(run: print_runs.PrintRun, out: BinaryIO, fmt: str,
           progress: Callable[[int], None] | None = None) -> int:
    """Stream the labels of ``run`` to ``out`` as ``fmt``; return how many were written."""
    session = get_session()
    key = label_keys.signing_key(session, run.producer, master_key())
    labels = print_runs.run_labels(session, run, base_url=current_app.config["PUBLIC_BASE_URL"],
                                   key=key, producer_name=producer_name(run.producer))
    return write_run(labels, out, fmt, progress=progress)


def render_to_file(run: print_runs.PrintRun, path: Path, fmt: str,
                   progress: Callable[[int], None] | None = None) -> int:
    """Render to ``path`` through ``path.part``, renamed only when complete; mark the run."""
    partial = path.with_name(path.name + ".part")
    with open(partial, "wb") as out:
        count = render(run, out, fmt, progress)
    os.replace(partial, path)
    session = get_session()
    print_runs.mark_rendered(session, session.merge(run), fmt, now())
    session.commit()
    return count
