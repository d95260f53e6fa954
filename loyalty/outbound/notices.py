"""run-jobs' webhook events: points about to expire, and members gone quiet.

Each is recorded once: `points.expiring` once per member and `on` date, `member.at_risk` once per
quiet spell (per latest purchase). A member_notices row, inserted unless it exists, says it was
recorded, so running run-jobs again (or twice at once) records nothing twice. With no active
endpoint subscribed to a type, its job skips the work (and remembers nothing): an endpoint added
later hears of what is true then.
"""
from datetime import datetime, timedelta

from sqlalchemy import exists, select

from loyalty import clock, expiry, members
from loyalty.extensions import db, insert_unless_exists
from loyalty.models import Member, MemberNotice, WebhookEndpoint, WebhookSubscription
from loyalty.outbound import events as outbox
from loyalty.outbound.events import ALL_TYPES

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

def expiring_candidates_query(program, now: datetime):
    """Members who may have points expiring within the notice, not already warned of a date still
    to come (a later date is warned of once that one has passed)."""
    horizon = now + timedelta(days=program.expiring_notice_days)
    warned = select(MemberNotice.member_id).where(
        MemberNotice.member_id == Member.id, MemberNotice.kind == EXPIRING,
        MemberNotice.key >= now.date().isoformat())
    return expiry.candidates_query(program, horizon).where(Member.status == "active", ~warned.exists())


def warn_expiring(member_id: str, program, now: datetime) -> int:
    """Record points.expiring for the member's next points to expire within the notice, the first
    time they are found; returns 1 if recorded."""
    member = members.get_member(member_id)
    upcoming = expiry.upcoming(member, program, now, days=program.expiring_notice_days)
    if upcoming is None or not _first_time(member.id, EXPIRING, upcoming["on"].isoformat()):
        return 0
    outbox.record(EXPIRING, {"member_id": member.id, "points": upcoming["points"],
                             "on": upcoming["on"].isoformat()})
    return 1


# -- member.at_risk ----------------------------------------------------------------------------------

def warn_at_risk(rows: list[dict]) -> int:
    """Record member.at_risk for each member at risk (rows of the at-risk report) not yet recorded
    for this quiet spell; returns how many were recorded."""
    keys = {row["member_id"]: clock.timestamp(row["last_purchase_at"]) for row in rows}
    known = {tuple(notice) for notice in db.session.execute(select(MemberNotice.member_id, MemberNotice.key).where(
        MemberNotice.kind == AT_RISK, MemberNotice.member_id.in_(keys)))}
    recorded = 0
    for row in rows:
        key = keys[row["member_id"]]
        if (row["member_id"], key) in known or not _first_time(row["member_id"], AT_RISK, key):
            continue
        outbox.record(AT_RISK, {"member_id": row["member_id"], "last_purchase_at": key,
                                "days_since_last_purchase": row["days_since_last_purchase"]})
        recorded += 1
    return recorded
