"""members: next-due moments of timed work (oldest_points_at, birthday_bonus_at) and the indexes
run-jobs reads, so that its cost grows with what is due rather than with the members

- members.oldest_points_at (indexed): when the oldest unspent points were earned; fixed expiry
  reads members with `oldest_points_at <= now - expiry_days`. Filled here with the earliest credit
  of every member holding points (early, never late: the first expiry run sets it exactly).
- members.birthday_bonus_at (indexed): the start of the birthday month in which the next bonus
  falls due. Filled here with now for members with a birthday: the next run-jobs looks at each
  once and sets it.
- ix_members_holding_last_purchase / _never_bought: inactivity expiry's members holding points,
  by last purchase (or enrolment, for those who never bought).
- ix_purchases_pending_vests_at: purchases still pending, by when they vest.
- ix_members_tier_config_version: members behind a tier configuration change.

Revision ID: b7d41e09c3f2
Revises: b41c9e2f7a10
Create Date: 2026-12-04 16:40:00

"""
import sqlalchemy as sa
from alembic import op

import loyalty.models.types

revision = 'b7d41e09c3f2'
down_revision = 'b41c9e2f7a10'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('oldest_points_at', loyalty.models.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('birthday_bonus_at', loyalty.models.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_members_oldest_points_at', ['oldest_points_at'], unique=False)
        batch_op.create_index('ix_members_birthday_bonus_at', ['birthday_bonus_at'], unique=False)
        batch_op.create_index('ix_members_tier_config_version', ['tier_config_version'], unique=False)
    holding, never_bought = 'points_balance > 0', 'points_balance > 0 AND last_purchase_at IS NULL'
    op.create_index('ix_members_holding_last_purchase', 'members', ['last_purchase_at'], unique=False,
                    postgresql_where=sa.text(holding), sqlite_where=sa.text(holding))
    op.create_index('ix_members_holding_never_bought', 'members', ['enrolled_at'], unique=False,
                    postgresql_where=sa.text(never_bought), sqlite_where=sa.text(never_bought))
    op.create_index('ix_purchases_pending_vests_at', 'purchases', ['vests_at'], unique=False,
                    postgresql_where=sa.text('pending_points > 0'), sqlite_where=sa.text('pending_points > 0'))
    op.execute("""
        UPDATE members SET oldest_points_at = (
            SELECT min(coalesce(purchases.occurred_at, ledger_entries.created_at))
            FROM ledger_entries LEFT JOIN purchases ON purchases.id = ledger_entries.purchase_id
            WHERE ledger_entries.member_id = members.id AND ledger_entries.points > 0)
        WHERE points_balance > 0""")
    op.execute("UPDATE members SET birthday_bonus_at = CURRENT_TIMESTAMP WHERE birthday IS NOT NULL")


def downgrade():
    op.drop_index('ix_purchases_pending_vests_at', table_name='purchases')
    op.drop_index('ix_members_holding_never_bought', table_name='members')
    op.drop_index('ix_members_holding_last_purchase', table_name='members')
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_index('ix_members_tier_config_version')
        batch_op.drop_index('ix_members_birthday_bonus_at')
        batch_op.drop_index('ix_members_oldest_points_at')
        batch_op.drop_column('birthday_bonus_at')
        batch_op.drop_column('oldest_points_at')
