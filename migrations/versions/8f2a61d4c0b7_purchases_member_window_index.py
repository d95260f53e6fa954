"""purchases: the member/date index also carries qualifying_points (index-only tier window sums)

Every member read sums a member's qualifying points over the tier window. With only (member_id,
occurred_at) in the index, PostgreSQL fetched one heap page per purchase in the window (about 200
buffers for a member with 200 purchases); with qualifying_points in the index it reads a handful.
The new index is built before the old one is dropped, so queries keep an index throughout.

Revision ID: 8f2a61d4c0b7
Revises: 3c5d0b7e9a21
Create Date: 2026-11-30 16:00:00

"""
from alembic import op


revision = '8f2a61d4c0b7'
down_revision = '3c5d0b7e9a21'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('purchases', schema=None) as batch_op:
        batch_op.create_index('ix_purchases_member_window', ['member_id', 'occurred_at', 'qualifying_points'],
                              unique=False)
        batch_op.drop_index('ix_purchases_member_occurred')


def downgrade():
    with op.batch_alter_table('purchases', schema=None) as batch_op:
        batch_op.create_index('ix_purchases_member_occurred', ['member_id', 'occurred_at'], unique=False)
        batch_op.drop_index('ix_purchases_member_window')
