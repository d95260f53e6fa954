"""members: the at-risk rule's inputs, kept per member, so the at-risk report reads an index

- members.last_qualifying_at: the member's latest qualifying purchase (net amount > 0).
- members.twice_median_gap_us: twice the median gap between their qualifying purchases, in
  microseconds (null with fewer than two).
- members.at_risk_from_us: the moment, in microseconds since 1970, from which the member is at
  risk (API.md, Rules: At risk): the latest + 90 days + 1 µs with one qualifying purchase, else the
  latest + max(twice the median gap + 1 µs, 30 days); null with none.
- members.at_risk_stale: a write to the member's purchases since (run-jobs works it out again).

Filled here for every member from their purchases, set-based: the same statement as
loyalty.reports.at_risk.refresh, written out for each database (a migration does not import the
application, which may have moved on).

Revision ID: e5c2a9d4b817
Revises: e5c0b2d94f17
Create Date: 2026-12-04 22:10:00

"""
import sqlalchemy as sa
from alembic import op

import loyalty.models.types

revision = 'e5c2a9d4b817'
down_revision = 'e5c0b2d94f17'
branch_labels = None
depends_on = None

DAY_US = 86_400 * 1_000_000

EPOCH_US = {
    # Exact microseconds since 1970 of a stored UTC timestamp (as loyalty.reports.sql.epoch_us).
    "postgresql": "CAST(EXTRACT(EPOCH FROM {0}) * 1000000 AS BIGINT)",
    "sqlite": "(CAST(strftime('%s', substr({0}, 1, 19)) AS INTEGER) * 1000000 + CAST(substr({0}, 21, 6) AS INTEGER))",
}

BACKFILL = """
WITH purchases_ AS (
  SELECT member_id, occurred_at, {occurred_us} AS occurred_us,
         {occurred_us} - lag({occurred_us}) OVER (PARTITION BY member_id ORDER BY occurred_at, id) AS gap_us
  FROM purchases
  WHERE amount - refunded_amount - disputed_amount > 0
), ranked AS (
  SELECT member_id, gap_us,
         row_number() OVER (PARTITION BY member_id ORDER BY gap_us) AS rank_,
         count(*) OVER (PARTITION BY member_id) AS gaps
  FROM purchases_ WHERE gap_us IS NOT NULL
), medians AS (
  SELECT member_id,
         sum(CASE WHEN 2 * rank_ = gaps + 1 THEN 2 * gap_us
                  WHEN 2 * rank_ = gaps OR 2 * rank_ = gaps + 2 THEN gap_us ELSE 0 END) AS twice_median_us
  FROM ranked GROUP BY member_id
), latest AS (
  SELECT member_id, max(occurred_at) AS last_at, max(occurred_us) AS last_us FROM purchases_ GROUP BY member_id
), summaries AS (
  SELECT latest.member_id, latest.last_at, medians.twice_median_us,
         latest.last_us + CASE WHEN medians.twice_median_us IS NULL THEN {one_purchase_wait}
                               WHEN medians.twice_median_us + 1 > {min_quiet} THEN medians.twice_median_us + 1
                               ELSE {min_quiet} END AS at_risk_from_us
  FROM latest LEFT JOIN medians ON medians.member_id = latest.member_id
)
UPDATE members SET last_qualifying_at = summaries.last_at, twice_median_gap_us = summaries.twice_median_us,
                   at_risk_from_us = summaries.at_risk_from_us
FROM summaries WHERE members.id = summaries.member_id
"""


def upgrade():
    # Plain ALTER TABLE on both databases: a batch rebuild of `members` on SQLite would drop a table
    # that purchases and the ledger refer to.
    dialect = op.get_bind().dialect.name
    op.add_column('members', sa.Column('last_qualifying_at', loyalty.models.types.UTCDateTime(timezone=True), nullable=True))
    op.add_column('members', sa.Column('twice_median_gap_us', sa.BigInteger(), nullable=True))
    op.add_column('members', sa.Column('at_risk_from_us', sa.BigInteger(), nullable=True))
    # NOT NULL with a server default (the model's too: a member made in SQL gets it) fills the existing rows.
    op.add_column('members', sa.Column('at_risk_stale', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute(BACKFILL.format(occurred_us=EPOCH_US[dialect].format("occurred_at"),
                               one_purchase_wait=90 * DAY_US + 1, min_quiet=30 * DAY_US))
    op.create_index('ix_members_last_qualifying_at', 'members', ['last_qualifying_at'], unique=False)
    op.create_index('ix_members_at_risk_from_us', 'members', ['at_risk_from_us'], unique=False)
    op.create_index('ix_members_at_risk_stale', 'members', ['id'], unique=False,
                    postgresql_where=sa.text('at_risk_stale'), sqlite_where=sa.text('at_risk_stale = 1'))
    if dialect == "postgresql":  # the planner's figures for the new columns, before autovacuum gets to it
        op.execute("ANALYZE members")


def downgrade():
    op.drop_index('ix_members_at_risk_stale', table_name='members')
    op.drop_index('ix_members_at_risk_from_us', table_name='members')
    op.drop_index('ix_members_last_qualifying_at', table_name='members')
    for column in ('at_risk_stale', 'at_risk_from_us', 'twice_median_gap_us', 'last_qualifying_at'):
        op.drop_column('members', column)
