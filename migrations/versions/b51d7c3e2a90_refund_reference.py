"""refunds: the shop's refund id (`reference`), unique per purchase, so a retried refund applies once

Revision ID: b51d7c3e2a90
Revises: b7d41c9e5a30
Create Date: 2026-12-04 16:20:00

"""
import sqlalchemy as sa
from alembic import op


revision = 'b51d7c3e2a90'
down_revision = 'b7d41c9e5a30'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reference', sa.String(length=255), nullable=True))
        batch_op.create_unique_constraint('uq_refunds_purchase_id_reference', ['purchase_id', 'reference'])


def downgrade():
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.drop_constraint('uq_refunds_purchase_id_reference', type_='unique')
        batch_op.drop_column('reference')
