"""refunds: drop stripe_refund_id, a column nothing ever wrote (Stripe refunds are recorded through
their payment's state, loyalty/payments/state.py, and a till refund names its own `reference`)

The column and its unique constraint are dropped; any value a database could hold came from
outside the application. The downgrade brings both back, empty.

Revision ID: e5c0b2d94f17
Revises: d3a8f1c06b52
Create Date: 2026-12-04 22:05:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'e5c0b2d94f17'
down_revision = 'd3a8f1c06b52'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.drop_constraint('uq_refunds_stripe_refund_id', type_='unique')
        batch_op.drop_column('stripe_refund_id')


def downgrade():
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stripe_refund_id', sa.String(length=255), nullable=True))
        batch_op.create_unique_constraint('uq_refunds_stripe_refund_id', ['stripe_refund_id'])
