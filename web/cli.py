"""Server commands: ``flask db …``, ``flask ledger …``, ``flask demo …``."""

from __future__ import annotations

import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from ledger import audit as ledger_audit
from ledger import replay as ledger_replay
from ledger.errors import AuditError
from ledger.actor import ROLES, Actor
from web import migrate
from web.auth import issue_token, revoke_tokens
from web.db import get_session

__all__ = ["init_app"]

db_cli = AppGroup("db", help="Database schema (Alembic migrations).")
ledger_cli = AppGroup("ledger", help="The append-only ledger.")
tokens_cli = AppGroup("tokens", help="API bearer tokens.")


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


def init_app(app: Flask) -> None:
    """Register the command groups on ``app``."""
    from web import demo

    app.cli.add_command(db_cli)
    app.cli.add_command(ledger_cli)
    app.cli.add_command(tokens_cli)
    app.cli.add_command(demo.demo_cli)
