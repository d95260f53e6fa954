"""Customers' own access: short-lived tokens for one member, and what /v1/me shows."""
from datetime import datetime, timedelta

from loyalty import auth, expiry, members, settings
from loyalty.errors import MemberInactive
from loyalty.models import AuthToken, Member


def issue_access_token(member_id: str, lifetime: timedelta) -> tuple[AuthToken, str]:
    """A customer token for this member only; a closed member gets none."""
    member = members.get_member(member_id)
    if member.status == "closed":
        raise MemberInactive(member_id=member.id)
    return auth.issue_token("customer", lifetime, member_id=member.id)


def expiring(member: Member, now: datetime) -> dict | None:
    return expiry.upcoming(member, settings.current().program, now)
