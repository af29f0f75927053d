"""sync rejections: state, retries and outcome

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sync_rejections', schema=None) as batch_op:
        batch_op.add_column(sa.Column('collection', sa.String(length=160), nullable=True))
        batch_op.add_column(sa.Column('state', sa.String(length=12), server_default='refused', nullable=False))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('outcome', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('retried_us', sa.BigInteger(), nullable=True))
        batch_op.create_index('ix_sync_rejections_state', ['peer', 'state', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sync_rejections', schema=None) as batch_op:
        batch_op.drop_index('ix_sync_rejections_state')
        batch_op.drop_column('retried_us')
        batch_op.drop_column('outcome')
        batch_op.drop_column('attempts')
        batch_op.drop_column('state')
        batch_op.drop_column('collection')
