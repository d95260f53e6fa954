"""What every report by tier shares: the tier a member held at a moment, and the rows' order.

The tier held at a moment is read from the tier history (API.md, Rules: Tiers): the latest
change in force then, or the entry tier when there is none. Rows come for every tier by rank,
then `none` (only when it counts someone), then `all` (API.md, Reports).
"""
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy import String, and_, case, func, literal, or_, select
from sqlalchemy.orm import aliased

from loyalty.extensions import db
from loyalty.models import Tier, TierChange
from loyalty.tiers import entry_tier, ladder

NO_TIER = "none"
EVERY_TIER = "all"


def _in_force(changes, member_id, moment, caused_by_purchase=None):
    """The join condition of a row to its member's tier changes in force at `moment`.

    With `caused_by_purchase`, a change at that very moment caused by that purchase is left out
    (the repurchase report counts a member under the tier held before p1 itself counted).
    `enrolled` rows stand for the entry tier, which is the default anyway.
    """
    at_moment = changes.effective_at == moment
    if caused_by_purchase is not None:
        at_moment = and_(at_moment, or_(changes.purchase_id.is_(None), changes.purchase_id != caused_by_purchase))
    return and_(changes.member_id == member_id, changes.reason != "enrolled",
                or_(changes.effective_at < moment, at_moment))


def with_tier_held(rows, member_id: str, moment: str, caused_by_purchase: str | None = None):
    """`rows` (a subquery) with a `tier_id` column: the tier its member held at its `moment` column
    (the latest change in force then, by effective_at then id; the entry tier with none).

    Set-based: the rows are joined to their members' changes in force, the latest ranked first per
    row and joined back. (A look-up per row, a correlated subquery, cost about a microsecond a row
    twice over on PostgreSQL: 7 of the repurchase report's 16 seconds on 10 million purchases.)
    The rows are a CTE, read twice: PostgreSQL works them out once.
    """
    entry = entry_tier()
    rows = select(rows).cte()
    keys = [rows.c[member_id], rows.c[moment], *([rows.c[caused_by_purchase]] if caused_by_purchase else [])]
    changes = aliased(TierChange)
    ranked = (
        select(*keys, changes.tier_id.label("held_tier_id"),
               func.row_number().over(partition_by=keys, order_by=(changes.effective_at.desc(), changes.id.desc()))
               .label("latest"))
        .join_from(rows, changes, _in_force(changes, *keys))
        .subquery("changes_in_force")
    )
    latest = and_(*(ranked.c[key.key] == key for key in keys), ranked.c.latest == 1)
    held = case((ranked.c.latest.is_(None), literal(entry.id if entry else None, String)),
                else_=ranked.c.held_tier_id)
    return select(*rows.c, held.label("tier_id")).select_from(rows).outerjoin(ranked, latest)


@dataclass
class Group:
    """What one row adds up: counts by name, and the samples its medians are taken over."""

    counts: Counter = field(default_factory=Counter)
    samples: dict[str, list[int]] = field(default_factory=dict)

    def add(self, other: "Group") -> None:
        self.counts.update(other.counts)
        for name, values in other.samples.items():
            self.samples.setdefault(name, []).extend(values)


def tier_rows(groups: dict, row: Callable[[str, Group], dict]) -> list[dict]:
    """groups: tier_id (None for no tier) -> Group; one row per tier by rank, `none`, then `all`."""
    live = ladder()
    ranked = sorted([*live, *_retired_tiers_counted(groups, live)],
                    key=lambda tier: (tier.min_qualifying_points, tier.deleted_at is not None))
    rows = [row(tier.key, groups.get(tier.id, Group())) for tier in ranked]
    if None in groups:
        rows.append(row(NO_TIER, groups[None]))
    everyone = Group()
    for group in groups.values():
        everyone.add(group)
    rows.append(row(EVERY_TIER, everyone))
    return rows


def _retired_tiers_counted(groups: dict, live: list[Tier]) -> list[Tier]:
    """Deleted tiers members still held: they get a row too, so `all` adds up."""
    live_ids = {tier.id for tier in live}
    retired_ids = [tier_id for tier_id in groups if tier_id is not None and tier_id not in live_ids]
    if not retired_ids:
        return []
    return list(db.session.execute(select(Tier).where(Tier.id.in_(retired_ids))).scalars())
