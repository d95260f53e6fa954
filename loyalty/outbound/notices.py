"""run-jobs' webhook events: points about to expire, and members gone quiet.

Each is recorded once: `points.expiring` once per member and `on` date, `member.at_risk` once per
quiet spell (per latest purchase). A member_notices row, inserted unless it exists, says it was
recorded, so running run-jobs again (or twice at once) records nothing twice. Each job reads only
the members whose next-due moment has come (members.expiring_notice_at, members.at_risk_at: kept
early, never late, by every writer; set by the job that looks), so a run with nothing due reads
no member. With no active endpoint subscribed to a type, its job skips the work (and remembers
nothing): an endpoint added later hears of what is true then.
"""
from datetime import datetime, time, timedelta, timezone

from sqlalchemy import exists, select

from loyalty import clock, expiry, members
from loyalty.extensions import db, insert_unless_exists
from loyalty.models import Member, MemberNotice, WebhookEndpoint, WebhookSubscription
from loyalty.outbound import events as outbox
from loyalty.outbound.events import ALL_TYPES
from loyalty.reports import at_risk

EXPIRING, AT_RISK = "points.expiring", "member.at_risk"


def subscribed(event_type: str) -> bool:
    """Does an active endpoint receive `event_type`?"""
    return db.session.execute(select(exists().where(
        WebhookSubscription.endpoint_id == WebhookEndpoint.id, WebhookEndpoint.active,
        WebhookEndpoint.deleted_at.is_(None), WebhookSubscription.event_type.in_([event_type, ALL_TYPES])))).scalar()


def _first_time(member_id: str, kind: str, key: str) -> bool:
    """Remember that `kind` was recorded for the member under `key`; False if it already was."""
    return insert_unless_exists(MemberNotice, {"member_id": member_id, "kind": kind, "key": key,
                                               "created_at": clock.now()}, ["member_id", "kind", "key"])


# -- points.expiring -------------------------------------------------------------------------------

def expiring_due_query(now: datetime):
    """Members whose points.expiring moment has come (ix_members_expiring_notice_at)."""
    return select(Member.id).where(Member.expiring_notice_at <= now, Member.status == "active")


def warn_expiring(member_id: str, program, now: datetime) -> int:
    """Record points.expiring for the member's next points to expire within the notice, the first
    time they are found, and set when to look again; returns 1 if recorded."""
    member = members.get_member(member_id, lock=True)
    notice = program.expiring_notice_days
    upcoming = expiry.upcoming(member, program, now, days=notice)
    if upcoming is None:
        member.expiring_notice_at = expiry.first_within(member, program, days=notice)
        return 0
    # A date warned of is not looked at again until it has passed (then later points are).
    member.expiring_notice_at = datetime.combine(upcoming["on"] + timedelta(days=1), time(), timezone.utc)
    if not _first_time(member.id, EXPIRING, upcoming["on"].isoformat()):
        return 0
    outbox.record(EXPIRING, {"member_id": member.id, "points": upcoming["points"],
                             "on": upcoming["on"].isoformat()})
    return 1


# -- member.at_risk ----------------------------------------------------------------------------------

def at_risk_due_query(now: datetime):
    """Members whose at-risk moment has come (ix_members_at_risk_at)."""
    return select(Member.id).where(Member.at_risk_at <= now)


def warn_at_risk(member_id: str, now: datetime) -> int:
    """Record member.at_risk if the member is at risk now and was not recorded for this quiet spell,
    and set when to look again (null once at risk: only a purchase starts another spell); returns
    1 if recorded."""
    member = members.get_member(member_id, lock=True)  # a purchase meanwhile waits, then moves the moment
    row, member.at_risk_at = at_risk.standing(member.id, now)
    if row is None:
        return 0
    key = clock.timestamp(row["last_purchase_at"])
    if not _first_time(member.id, AT_RISK, key):
        return 0
    outbox.record(AT_RISK, {"member_id": member.id, "last_purchase_at": key,
                            "days_since_last_purchase": row["days_since_last_purchase"]})
    return 1
