"""Timed work for `run-jobs`: each job is idempotent and commits in small batches."""
from loyalty import birthdays, clock, expiry, idempotency, purchases, redemptions, staff, tiers
from loyalty.extensions import db
from loyalty.models import Member
from loyalty.program import get_program

BATCH = 500


def _in_batches(query, work) -> int:
    """Apply work(member) to each member id the query yields, committing every BATCH; returns the count."""
    done, last_id = 0, ""
    while True:
        ids = db.session.execute(query.where(Member.id > last_id).order_by(Member.id).limit(BATCH)).scalars().all()
        for member_id in ids:
            work(db.session.get(Member, member_id, with_for_update=True))
        db.session.commit()
        done += len(ids)
        if len(ids) < BATCH:
            return done
        last_id = ids[-1]


def expire_vouchers(now):
    expired = 0
    while True:
        ids = db.session.execute(redemptions.due_for_expiry_query(now).limit(BATCH)).scalars().all()
        expired += sum(redemptions.expire_one(redemption_id, now) for redemption_id in ids)
        db.session.commit()
        if len(ids) < BATCH:
            return f"{expired} unused vouchers expired, their points returned"


def prune_login_failures(now):
    removed = staff.prune_login_failures(now)
    db.session.commit()
    return f"{removed} old failed logins forgotten"


def vest_pending_points(now):
    vested = 0
    while True:
        ids = db.session.execute(purchases.due_to_vest_query(now).limit(BATCH)).scalars().all()
        vested += sum(purchases.vest(purchase_id, now) for purchase_id in ids)
        db.session.commit()
        if len(ids) < BATCH:
            return f"{vested} pending points vested"


def expire_points(now):
    program = get_program()
    if program.expiry_policy == "none":
        return "expiry is off"
    expired = []
    count = _in_batches(expiry.candidates_query(program, now),
                        lambda member: expired.append(expiry.expire_member(member.id, program, now)))
    return f"{sum(expired)} points expired ({count} members checked)"


def pay_birthday_bonuses(now):
    bonus = get_program().birthday_bonus
    if not bonus:
        return "no birthday bonus set"
    paid = []
    _in_batches(birthdays.due_query(now), lambda member: paid.append(birthdays.pay(member.id, bonus, now)))
    return f"{sum(paid)} birthday bonuses paid"


def reevaluate_tier_config(now):
    program = get_program()
    version = program.tier_config_version
    ladder = tiers.ladder()
    count = _in_batches(tiers.members_behind_config_query(version),
                        lambda member: tiers.reevaluate_for_config(member, now, ladder, program))
    return f"{count} members re-evaluated after tier changes"


def evaluate_tiers(now):
    count = _in_batches(tiers.members_due_query(now), lambda member: tiers.evaluate(member, as_of=now))
    return f"{count} members' tiers evaluated"


def prune_idempotency_keys(now):
    removed = idempotency.prune(now)
    db.session.commit()
    return f"{removed} old idempotency keys removed"


# (name, job(now) -> summary). Later work appends its jobs here, in the order they must run.
JOBS = [
    ("idempotency keys", prune_idempotency_keys),
    ("failed logins", prune_login_failures),
    ("pending points", vest_pending_points),
    ("vouchers", expire_vouchers),
    ("points expiry", expire_points),
    ("birthday bonuses", pay_birthday_bonuses),
    ("tier changes", reevaluate_tier_config),
    ("tier evaluation", evaluate_tiers),
]


def run_all():
    """Run every job as of one moment; yield (name, summary)."""
    now = clock.now()
    for name, job in JOBS:
        yield name, job(now)
