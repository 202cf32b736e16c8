"""ledger subjects up to 256 characters

The entry envelope allows subjects of up to 256 characters (ledger/entry.py), but
ledger_entries.subject and ledger_objects.subject were VARCHAR(200): PostgreSQL
refused subjects of 201-256 characters.  Widen both to VARCHAR(256).

Revision ID: 0008_subject_256
Revises: 0007_list_lookup_index
Create Date: 2026-11-28 18:20:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = "0008_subject_256"
down_revision = "0007_list_lookup_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch_alter_table: SQLite cannot ALTER a column's type, so it copies the table
    # (with its index); PostgreSQL gets a plain ALTER COLUMN … TYPE VARCHAR(256).
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.alter_column("subject", existing_type=sa.String(length=200),
                              type_=sa.String(length=256), existing_nullable=False)
    with op.batch_alter_table("ledger_objects", schema=None) as batch_op:
        batch_op.alter_column("subject", existing_type=sa.String(length=200),
                              type_=sa.String(length=256), existing_nullable=False)


def downgrade() -> None:
    # Fails (PostgreSQL) if a stored subject is longer than 200 characters.
    with op.batch_alter_table("ledger_objects", schema=None) as batch_op:
        batch_op.alter_column("subject", existing_type=sa.String(length=256),
                              type_=sa.String(length=200), existing_nullable=False)
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.alter_column("subject", existing_type=sa.String(length=256),
                              type_=sa.String(length=200), existing_nullable=False)
