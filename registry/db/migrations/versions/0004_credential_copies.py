"""signed copies: a signed version of a credential whose body was issued before

Same body (digest) with other signatures: anchored by that credential's batch, written to its own
output file once the batch is done. Existing databases get an empty table.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 11:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create credential_copies."""
    op.create_table(
        "credential_copies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("proofs_digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("extra_proof", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=4096), nullable=True),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest", "proofs_digest"),
    )
    op.create_index("ix_credential_copies_digest", "credential_copies", ["digest"])


def downgrade() -> None:
    """Drop credential_copies (its signed versions are no longer written)."""
    op.drop_index("ix_credential_copies_digest", table_name="credential_copies")
    op.drop_table("credential_copies")
