"""keep each credential's canonical bytes in the database

The proof writer then reads a whole batch with one query instead of one content-store read per
credential; the bytes are re-hashed against the digest before use. Rows from before this
revision keep NULL and are read from the content store as before.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 07:52:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add credentials.document (nullable: existing rows keep their data untouched)."""
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.add_column(sa.Column("document", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    """Drop credentials.document (the bytes stay pinned in the content store)."""
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.drop_column("document")
