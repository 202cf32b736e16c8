"""``flask demo load``: a demo world built through the same services users call.

It covers what exists so far and grows with each capability (see README.md).
"""

from __future__ import annotations

from datetime import datetime, timezone

import click
from flask import current_app
from flask.cli import AppGroup

from ledger import sequencer, store
from web.db import get_session

__all__ = ["demo_cli"]

demo_cli = AppGroup("demo", help="A demo world for local use.")

DEMO_SUBJECT = "demo:world"


@demo_cli.command("load")
@click.option("--base-url", default=None, help="Base URL printed in demo links.")
def load(base_url: str | None) -> None:
    """Load the demo world (once) and print its links and tokens."""
    base = (base_url or current_app.config["PUBLIC_BASE_URL"]).rstrip("/")
    session = get_session()
    if not store.entries_of(session, DEMO_SUBJECT):
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        sequencer.append(session, current_app.extensions["ledger_signer"], [
            sequencer.NewEntry("demo.created", now, "system", DEMO_SUBJECT, {"note": "demo world"}),
        ])
        click.echo("demo world loaded")
    else:
        click.echo("demo world already loaded")
    click.echo(f"ledger checkpoint: {base}/ledger/checkpoint")
