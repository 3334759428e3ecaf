"""rosters: the roster secret, roster runs and rows, corrections (issue 15)

Revision ID: 0006_roster_runs
Revises: 0005
Create Date: 2026-12-08 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_roster_runs"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``roster_secret``, ``roster_runs``, ``roster_rows`` and ``corrections``."""
    op.create_table(
        "roster_secret",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("secret", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "roster_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("template_name", sa.String(length=1024), nullable=False),
        sa.Column("template_digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("roster_name", sa.String(length=1024), nullable=False),
        sa.Column("roster_sha256", sa.LargeBinary(length=32), nullable=False),
        sa.Column("key_column", sa.String(length=256), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("ok", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "roster_rows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("row_key", sa.String(length=1024), nullable=True),
        sa.Column("template_digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("digest", sa.LargeBinary(length=32), nullable=True),
        sa.Column("content_digest", sa.LargeBinary(length=32), nullable=True),
        sa.Column("recipient_email", sa.String(length=320), nullable=True),
        sa.Column("recipient_name", sa.String(length=1024), nullable=True),
        sa.Column("code", sa.String(length=64), nullable=True),
        sa.Column("column_name", sa.String(length=256), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["roster_runs.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_roster_rows_run_row", "roster_rows", ["run_id", "row_number"])
    op.create_index("ix_roster_rows_identity", "roster_rows", ["template_digest", "row_key"])
    op.create_index("ix_roster_rows_digest", "roster_rows", ["digest"])
    op.create_table(
        "corrections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("old_digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("new_digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("reason", sa.String(length=4096), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("old_digest"),
    )
    op.create_index("ix_corrections_new_digest", "corrections", ["new_digest"])


def downgrade() -> None:
    """Drop the four tables."""
    op.drop_index("ix_corrections_new_digest", table_name="corrections")
    op.drop_table("corrections")
    op.drop_index("ix_roster_rows_digest", table_name="roster_rows")
    op.drop_index("ix_roster_rows_identity", table_name="roster_rows")
    op.drop_index("ix_roster_rows_run_row", table_name="roster_rows")
    op.drop_table("roster_rows")
    op.drop_table("roster_runs")
    op.drop_table("roster_secret")
