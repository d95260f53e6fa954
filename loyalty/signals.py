"""Signals between parts that must not import each other (blinker, which Flask itself uses).

Members know nothing of payments: they announce what changed, and `payments.events` (connected in
create_app) applies the Stripe events that were parked waiting for those members, in the same
transaction as the change.
"""
from blinker import Namespace

_signals = Namespace()

# Sent with the Member when it is created, or its email or Stripe customer id changes.
member_changed = _signals.signal("member-changed")

# Sent with `members=[...]` (objects with email and stripe_customer_id) when an import enrols many.
members_arrived = _signals.signal("members-arrived")
