"""record why a batch step failed: batches.last_error, last_error_at, failures

A failed anchor (refused by the registry, reverted on chain, manifest not pinned) leaves the batch
open to be retried by every later run; these columns let ``registry status`` say what happened.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the three columns (existing batches: no error, zero failures)."""
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_error", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("last_error_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("failures", sa.BigInteger(), nullable=False, server_default="0"))
    # before 0003 a root held by another issuer left the batch "failed" for good, its credentials
    # sealed forever: reopen such batches (manifest pinned, no live transaction) to be retried
    op.execute(
        "UPDATE batches SET status = 'pinned', tx_id = NULL, tx_hash = NULL, "
        "last_error = 'root_taken: marked failed before migration 0003; reopened' "
        "WHERE status = 'failed'"
    )


def downgrade() -> None:
    """Drop them again."""
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.drop_column("failures")
        batch_op.drop_column("last_error_at")
        batch_op.drop_column("last_error")
