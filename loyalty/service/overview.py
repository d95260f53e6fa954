"""What the till or the service desk reads before speaking to a member (API.md, Service: Overview).

A handful of statements, whatever the member's history: the member with its tier window points,
the active rewards (and, when some have a per-member limit, one count of the member's
redemptions), open cases, pinned notes, the latest feedback of each kind, and the at-risk rule
over the member's own purchases. Settings come from the process's cache.
"""
from loyalty import clock, members, rewards
from loyalty.actors import Actor
from loyalty.reports import at_risk
from loyalty.service import cases, feedback, notes

# Notes are for the shop's staff: a storefront (whose screens customers may see) gets none.
NOTE_READERS = ("admin", "manager", "cashier")


def overview(member_id: str, actor: Actor) -> dict:
    """The member, rewards with eligibility, open cases, pinned notes, last feedback and at_risk."""
    member = members.get_member_with_progress(member_id)
    return {
        "member": member,
        "rewards": rewards.mark_eligibility(rewards.active_catalogue(), member),
        "open_cases": cases.open_cases(member_id),
        "pinned_notes": notes.pinned_notes(member_id) if actor.role in NOTE_READERS else [],
        "last_feedback": feedback.latest_of_each_kind(member_id),
        "at_risk": at_risk.is_at_risk(member_id, clock.now()),
    }
