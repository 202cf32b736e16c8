"""credit list lookup index covers auto_end

Without statistics SQLite chose ix_credit_list_entries_kind for a subject's
black-list lookup and read every active entry; with auto_end in the lookup
index it picks the lookup index (bench/credit_bench.py, docs/performance.md).

Revision ID: 0007_list_lookup_index
Revises: 0006_console_accounts
"""
from __future__ import annotations

from alembic import op

revision = "0007_list_lookup_index"
down_revision = "0006_console_accounts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("credit_list_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_credit_list_entries_lookup")
        batch_op.create_index("ix_credit_list_entries_lookup",
                              ["subject_id", "list_kind", "status", "auto_end"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("credit_list_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_credit_list_entries_lookup")
        batch_op.create_index("ix_credit_list_entries_lookup",
                              ["subject_id", "list_kind", "status"], unique=False)
