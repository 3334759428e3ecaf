"""status lists: index allocations and published list versions (issue 13)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 11:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``status_allocations`` and ``status_list_versions``."""
    op.create_table(
        "status_allocations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("list_number", sa.BigInteger(), nullable=False),
        sa.Column("revocation_index", sa.BigInteger(), nullable=False),
        sa.Column("suspension_index", sa.BigInteger(), nullable=False),
        sa.Column("digest", sa.LargeBinary(length=32), nullable=True),
        sa.Column("allocated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("bound_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest"),
        sa.UniqueConstraint("list_number", "revocation_index", name="uq_status_revocation_index"),
        sa.UniqueConstraint("list_number", "suspension_index", name="uq_status_suspension_index"),
    )
    op.create_index("ix_status_allocations_list_number", "status_allocations", ["list_number"])
    op.create_table(
        "status_list_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issuer", sa.String(length=42), nullable=False),
        sa.Column("list_number", sa.BigInteger(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("cid", sa.String(length=128), nullable=False),
        sa.Column("bits_sha256", sa.LargeBinary(length=32), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("issuer", "list_number", "purpose", "version", name="uq_status_list_version"),
    )


def downgrade() -> None:
    """Drop both tables."""
    op.drop_table("status_list_versions")
    op.drop_index("ix_status_allocations_list_number", table_name="status_allocations")
    op.drop_table("status_allocations")
