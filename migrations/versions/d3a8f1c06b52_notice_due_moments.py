"""members: next-due moments of run-jobs' webhook events (points.expiring, member.at_risk), indexed,
so that a run with nothing due reads no member

- members.expiring_notice_at: when run-jobs next looks for points to warn of. Filled here with now
  for every member holding points (early, never late: the first run sets each exactly).
- members.at_risk_at: when the member may next be at risk. Filled here with now for every member
  who has bought (the first run sets each exactly, or clears it for a spell already warned of).

Revision ID: d3a8f1c06b52
Revises: c7e2f4a1d803
Create Date: 2026-12-04 19:20:00

"""
import sqlalchemy as sa
from alembic import op

import loyalty.models.types

revision = 'd3a8f1c06b52'
down_revision = 'c7e2f4a1d803'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expiring_notice_at', loyalty.models.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('at_risk_at', loyalty.models.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_members_expiring_notice_at', ['expiring_notice_at'], unique=False)
        batch_op.create_index('ix_members_at_risk_at', ['at_risk_at'], unique=False)
    op.execute("UPDATE members SET expiring_notice_at = CURRENT_TIMESTAMP WHERE points_balance > 0")
    op.execute("UPDATE members SET at_risk_at = CURRENT_TIMESTAMP WHERE last_purchase_at IS NOT NULL AND status != 'closed'")


def downgrade():
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_index('ix_members_at_risk_at')
        batch_op.drop_index('ix_members_expiring_notice_at')
        batch_op.drop_column('at_risk_at')
        batch_op.drop_column('expiring_notice_at')
