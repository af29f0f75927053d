"""profile_versions: the fingerprint flag (per-recipient fingerprints, on unless turned off)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('profile_versions', sa.Column('fingerprint', sa.Boolean(), server_default=sa.true(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('profile_versions') as batch:
        batch.drop_column('fingerprint')
