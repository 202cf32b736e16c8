"""Server commands: ``flask db …``, ``flask ledger …``, ``flask demo …``."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from ledger import audit as ledger_audit
from ledger import replay as ledger_replay
from ledger.errors import AuditError
from labels.runs import RUN_WRITERS
from ledger.actor import ROLES, Actor
from ledger.errors import DomainError
from trace import identifiers as trace_ids
from trace import print_runs
from trace import queries as trace_queries
from web import migrate, printing
from web.auth import create_account, issue_token, revoke_tokens
from web.db import get_session

__all__ = ["init_app"]

db_cli = AppGroup("db", help="Database schema (Alembic migrations).")
ledger_cli = AppGroup("ledger", help="The append-only ledger.")
tokens_cli = AppGroup("tokens", help="API bearer tokens.")
labels_cli = AppGroup("labels", help="Signed labels and print runs.")
accounts_cli = AppGroup("accounts", help="Console logins.")


@db_cli.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
def db_upgrade(revision: str) -> None:
    """Create or migrate the schema to the latest revision."""
    migrate.upgrade(current_app.extensions["engine"], revision)
    click.echo(f"database at revision {revision}")


@db_cli.command("revision")
@click.option("-m", "--message", required=True)
def db_revision(message: str) -> None:
    """Autogenerate a migration from the models (for developers)."""
    migrate.revision(current_app.extensions["engine"], message)


@ledger_cli.command("audit")
def audit_command() -> None:
    """Recompute every entry, hash, chain and the latest checkpoint; exit 1 on the first mismatch."""
    signer = current_app.extensions["ledger_signer"]
    session = get_session()
    try:
        report = ledger_audit.audit(session, signer.vkey)
    except AuditError as exc:
        click.echo(f"audit FAILED at entry {exc.index}: {exc.detail} [{exc.code}]", err=True)
        sys.exit(1)
    click.echo(
        f"audit OK: {report.size} entries, {report.subjects} hash chains, "
        f"{report.checkpoints} checkpoints, root {report.root.hex()}"
    )


@ledger_cli.command("replay")
def replay_command() -> None:
    """Rebuild every query table (projection) from the ledger entries."""
    session = get_session()
    names = ", ".join(p.name for p in ledger_replay.projections())
    try:
        count = ledger_replay.replay(session)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    click.echo(f"replayed {count} entries into: {names}")


@tokens_cli.command("issue")
@click.option("--actor", "actor_id", required=True, help="Subject id the token acts for.")
@click.option("--role", required=True, type=click.Choice(sorted(ROLES - {"system"})))
@click.option("--label", default="", help="A note to tell tokens apart.")
def tokens_issue(actor_id: str, role: str, label: str) -> None:
    """Issue a bearer token and print it (it is shown once; only its hash is stored)."""
    session = get_session()
    token = issue_token(session, Actor(actor_id, role), label)
    session.commit()
    click.echo(token)


@tokens_cli.command("revoke")
@click.option("--actor", "actor_id", required=True)
def tokens_revoke(actor_id: str) -> None:
    """Revoke every live token of an actor."""
    session = get_session()
    count = revoke_tokens(session, actor_id)
    session.commit()
    click.echo(f"revoked {count} token(s)")


@labels_cli.command("print")
@click.option("--gtin", help="Product GTIN (8, 12, 13 or 14 digits).")
@click.option("--lot", help="Batch lot (AI 10).")
@click.option("--count", type=click.IntRange(1, print_runs.MAX_RUN), help="Labels to print.")
@click.option("--format", "fmt", required=True, type=click.Choice(sorted(RUN_WRITERS)))
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--resume", "resume", default=None, help="Render an earlier run again (its id).")
@click.option("--pins", "pins_out", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Also issue scratch-off PINs and write them to this CSV (new runs only).")
def labels_print(gtin: str | None, lot: str | None, count: int | None, fmt: str, out: Path,
                 resume: str | None, pins_out: Path | None) -> None:
    """Reserve serials, record their production, sign and render them to a file.

    An interrupted run is finished with --resume RUN_ID: the same serials are
    rendered again, none duplicated or skipped.
    """
    session = get_session()
    try:
        if resume:
            if pins_out:
                raise click.UsageError("--pins only with a new run: PINs are issued once and "
                                       "only their hashes are kept")
            run = print_runs.get_run(session, resume)
        else:
            if not (gtin and lot and count):
                raise click.UsageError("--gtin, --lot and --count are required (or --resume)")
            product = trace_queries.find_product(session, trace_ids.gtin(gtin))
            if product is None:
                raise click.ClickException(f"unknown product {gtin}")
            with click.progressbar(length=count, label="recording serials in the ledger",
                                   file=sys.stderr) as bar:
                recorded = [0]

                def advance_reservation(n: int) -> None:
                    bar.update(n - recorded[0])
                    recorded[0] = n

                run = printing.reserve(Actor(product["producer"], "producer"), gtin, lot,
                                       count, pins_out, advance_reservation)
            click.echo(f"print run {run.id}: serials {print_runs.serials_of(run)[0]} .. "
                       f"{print_runs.serials_of(run)[-1]} recorded in the ledger", err=True)
        with click.progressbar(length=run.count, label=f"rendering {fmt}", file=sys.stderr) as bar:
            done = [0]

            def advance(n: int) -> None:
                bar.update(n - done[0])
                done[0] = n

            written = printing.render_to_file(run, out, fmt, advance)
    except DomainError as exc:
        raise click.ClickException(f"{exc.detail} [{exc.code}]") from None
    click.echo(f"wrote {written} labels of run {run.id} to {out}")


@accounts_cli.command("create")
@click.option("--username", required=True)
@click.option("--actor", "actor_id", required=True, help="Subject id the login acts for.")
@click.option("--role", required=True, type=click.Choice(sorted(ROLES - {"system", "consumer"})))
@click.password_option(help="At least 10 characters (prompted when omitted).")
def accounts_create(username: str, actor_id: str, role: str, password: str) -> None:
    """Create (or reset the password of) a console login."""
    session = get_session()
    try:
        create_account(session, username, password, Actor(actor_id, role))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    session.commit()
    click.echo(f"console login {username} ({role}) ready")


def init_app(app: Flask) -> None:
    """Register the command groups on ``app``."""
    from web import demo

    app.cli.add_command(db_cli)
    app.cli.add_command(ledger_cli)
    app.cli.add_command(tokens_cli)
    app.cli.add_command(labels_cli)
    app.cli.add_command(accounts_cli)
    app.cli.add_command(demo.demo_cli)
