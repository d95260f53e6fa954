"""What every report by tier shares: the tier a member held at a moment, and the rows' order.

The tier held at a moment is read from the tier history (API.md, Rules: Tiers): the latest
change in force then, or the entry tier when there is none. Rows come for every tier by rank,
then `none` (only when it counts someone), then `all` (API.md, Reports).
"""
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy import String, and_, case, literal, or_, select

from loyalty.extensions import db
from loyalty.models import Tier, TierChange
from loyalty.tiers import entry_tier, ladder

NO_TIER = "none"
EVERY_TIER = "all"


def change_in_force(member_id, moment, caused_by_purchase=None):
    """The id of the last tier change in force at `moment` (a correlated subquery; NULL if none).

    With `caused_by_purchase`, a change at that very moment caused by that purchase is left out
    (the repurchase report counts a member under the tier held before p1 itself counted).
    `enrolled` rows stand for the entry tier, which is the default anyway.
    """
    at_moment = TierChange.effective_at == moment
    if caused_by_purchase is not None:
        at_moment = and_(at_moment, or_(TierChange.purchase_id.is_(None), TierChange.purchase_id != caused_by_purchase))
    return (
        select(TierChange.id)
        .where(TierChange.member_id == member_id, TierChange.reason != "enrolled",
               or_(TierChange.effective_at < moment, at_moment))
        .order_by(TierChange.effective_at.desc(), TierChange.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def with_tier_held(rows, member_id: str, moment: str, caused_by_purchase: str | None = None):
    """`rows` (a subquery) with a `tier_id` column: the tier its member held at its `moment` column."""
    entry = entry_tier()
    change = change_in_force(rows.c[member_id], rows.c[moment],
                             rows.c[caused_by_purchase] if caused_by_purchase else None)
    with_change = select(rows, change.label("change_id")).subquery("with_change")
    held = case((with_change.c.change_id.is_(None), literal(entry.id if entry else None, String)),
                else_=TierChange.tier_id)
    return (select(*[column for column in with_change.c if column.key != "change_id"], held.label("tier_id"))
            .select_from(with_change)
            .outerjoin(TierChange, TierChange.id == with_change.c.change_id))


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
