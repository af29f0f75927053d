"""objects: drop the sha256 column

Nothing read it: the digest of what leaves the node is taken from the exact bytes released (the
ledger and the release records), not from the stored form. Computing it cost every ingest a hash of
every body.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain ALTER TABLE ... DROP COLUMN (SQLite 3.35 and later, PostgreSQL): no copy of the table
    op.drop_column('objects', 'sha256')


def downgrade() -> None:
    op.add_column('objects', sa.Column('sha256', sa.String(length=64), server_default='', nullable=False))
