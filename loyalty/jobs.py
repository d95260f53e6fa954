"""Timed work for `run-jobs`: each job is idempotent and works in small batches.

The jobs never commit. After each batch they call `batch_done`, which the command that runs them
(`flask loyalty run-jobs`) sets to commit, so that a long run keeps its locks and its
transactions short; a caller that passes nothing (the demo, the tests) runs them in its own
transaction.
"""
from flask import current_app

from loyalty import birthdays, clock, expiry, idempotency, members, purchases, redemptions, settings, staff, tiers
from loyalty.extensions import db
from loyalty.models import Member, Purchase, Redemption
from loyalty.outbound import deliveries as webhook_deliveries, notices
from loyalty.reports import at_risk

BATCH = 500


def _nothing() -> None:
    pass


def _drain(query, id_column, work, batch_done) -> int:
    """Apply work(id) to every id the query yields, in id order, calling batch_done() every BATCH.

    Keyset order makes it finish even when some work changes nothing; returns the sum of what
    work returned (a count of what it did).
    """
    done, last_id = 0, None
    while True:
        page = query.order_by(id_column).limit(BATCH)
        if last_id is not None:
            page = page.where(id_column > last_id)
        ids = db.session.execute(page).scalars().all()
        done += sum(work(row_id) for row_id in ids)
        batch_done()
        if len(ids) < BATCH:
            return done
        last_id = ids[-1]


def _for_members(query, work, batch_done) -> int:
    """work(member) on each member the query names, its row locked; returns how many."""
    def locked(member_id):
        work(members.get_member(member_id, lock=True))
        return 1
    return _drain(query, Member.id, locked, batch_done)


def prune_idempotency_keys(now, batch_done=_nothing):
    removed = idempotency.prune(now)
    return f"{removed} old idempotency keys removed"


def prune_login_failures(now, batch_done=_nothing):
    removed = staff.prune_login_failures(now)
    return f"{removed} old failed logins forgotten"


def vest_pending_points(now, batch_done=_nothing):
    vested = _drain(purchases.due_to_vest_query(now), Purchase.id,
                    lambda purchase_id: purchases.vest(purchase_id, now), batch_done)
    return f"{vested} pending points vested"


def expire_vouchers(now, batch_done=_nothing):
    expired = _drain(redemptions.due_for_expiry_query(now), Redemption.id,
                     lambda redemption_id: redemptions.expire_one(redemption_id, now), batch_done)
    return f"{expired} unused vouchers expired, their points returned"


def expire_points(now, batch_done=_nothing):
    program = settings.current().program
    if program.expiry_policy == "none":
        return "expiry is off"
    expired = _drain(expiry.candidates_query(program, now), Member.id,
                     lambda member_id: expiry.expire_member(member_id, program, now), batch_done)
    return f"{expired} points expired"


def pay_birthday_bonuses(now, batch_done=_nothing):
    bonus = settings.current().program.birthday_bonus
    if not bonus:
        return "no birthday bonus set"
    paid = _drain(birthdays.due_query(now), Member.id, lambda member_id: birthdays.pay_if_due(member_id, bonus, now),
                  batch_done)
    return f"{paid} birthday bonuses paid"


def reevaluate_tier_config(now, batch_done=_nothing):
    version = settings.current().program.tier_config_version  # members are stamped with this, not a later one
    count = _for_members(tiers.members_behind_config_query(version),
                        lambda member: tiers.reevaluate_for_config(member, now, version), batch_done)
    return f"{count} members re-evaluated after tier changes"


def evaluate_tiers(now, batch_done=_nothing):
    count = _for_members(tiers.members_due_query(now), lambda member: tiers.evaluate(member, as_of=now), batch_done)
    return f"{count} members' tiers evaluated"


def prune_webhook_history(now, batch_done=_nothing):
    keep_days = current_app.config["WEBHOOK_RETENTION_DAYS"]
    removed = webhook_deliveries.prune(now, keep_days)
    return f"{removed} webhook events older than {keep_days} days forgotten"


def warn_expiring_points(now, batch_done=_nothing):
    program = settings.current().program
    if program.expiry_policy == "none" or not notices.subscribed(notices.EXPIRING):
        return "no endpoint receives points.expiring"
    warned = _drain(notices.expiring_due_query(now), Member.id,
                    lambda member_id: notices.warn_expiring(member_id, program, now), batch_done)
    return f"{warned} points.expiring events recorded"


def refresh_at_risk_summaries(now, batch_done=_nothing):
    refreshed = 0
    while True:
        member_ids = at_risk.lock_stale(BATCH)
        at_risk.refresh(member_ids)
        refreshed += len(member_ids)
        batch_done()
        if len(member_ids) < BATCH:
            return f"{refreshed} at-risk summaries worked out again"


def warn_members_at_risk(now, batch_done=_nothing):
    if not notices.subscribed(notices.AT_RISK):
        return "no endpoint receives member.at_risk"
    warned = _drain(notices.at_risk_due_query(now), Member.id, lambda member_id: notices.warn_at_risk(member_id, now),
                    batch_done)
    return f"{warned} member.at_risk events recorded"


# (name, job(now) -> summary). Later work appends its jobs here, in the order they must run.
JOBS = [
    ("idempotency keys", prune_idempotency_keys),
    ("failed logins", prune_login_failures),
    ("webhook history", prune_webhook_history),
    ("pending points", vest_pending_points),
    ("vouchers", expire_vouchers),
    ("points expiry", expire_points),
    ("expiring points notices", warn_expiring_points),
    ("birthday bonuses", pay_birthday_bonuses),
    ("tier changes", reevaluate_tier_config),
    ("tier evaluation", evaluate_tiers),
    ("at-risk summaries", refresh_at_risk_summaries),
    ("at-risk notices", warn_members_at_risk),
]


def run_all(batch_done=_nothing):
    """Run every job as of one moment; yield (name, summary). batch_done() is called after each
    batch of work and at the end of each job: the command that runs them commits there."""
    now = clock.now()
    for name, job in JOBS:
        summary = job(now, batch_done)
        batch_done()
        yield name, summary
