"""What each input field means, for /openapi.json and /docs (API.md, Operations).

A field is described by its own `metadata={"description": ...}` where its meaning is particular
to its schema; the fields that mean the same thing wherever they appear (`limit`, `amount`,
`currency`, `email`...) are described once here, by the name clients send. `describe_by_name`
fills in these for fields without a description of their own. Ranges, lengths and allowed values
are in the document already (minimum, maximum, maxLength, enum), so the words say what the field
is, its unit, and which fields exclude each other. tests/test_openapi_docs.py fails on any
input field left without a description.
"""

BY_NAME = {
    # Lists (API.md, Conventions)
    "limit": "How many items to return (1–100, default 20).",
    "cursor": "Where to continue: the `next_cursor` of the previous page, as given.",
    # Money and points
    "amount": "Money as an integer in the currency's minor unit (cents for usd, yen for jpy, "
              "fils for kwd): 25.99 usd is 2599. Never a decimal.",
    "currency": "An ISO 4217 code (`usd`, `EUR`...); any case on input, lowercase on output.",
    "multiplier": "A decimal string, e.g. \"1.5\": the points a purchase earns are multiplied by it.",
    # People and ids
    "member_id": "A member's `id` (as returned when enrolling, `mem_...`).",
    "external_id": "The member's id in the shop's own system (the storefront's customer id); "
                   "unique across members.",
    "email": "An email address.",
    "name": "A name for people to read.",
    "phone": "A phone number as the customer writes it; look-ups match on its digits alone.",
    "birthday": "A date, YYYY-MM-DD; the birthday bonus is paid in its month.",
    "stripe_customer_id": "The member's Stripe customer id (`cus_...`): Stripe payments of that "
                          "customer earn points for this member.",
    "metadata": "Your own string key-value pairs (up to 50 keys of at most 40 characters, values of "
                "at most 500), kept and returned as given.",
    "member_code": "The short code printed on the member's card or QR code (any case).",
    "password": "At least 10 characters.",
    "role": "`cashier` (till work) or `manager` (also adjustments, voids and member changes).",
    "active": "false takes it out of use without deleting it.",
    # Orders, rewards, places
    "order_id": "The shop's order number: unique per source, so a retried request with the same "
                "order_id records nothing twice.",
    "reward_id": "A reward's `id` (`rwd_...`), from GET /v1/rewards.",
    "location": "Where it happened, e.g. a shop's name (free text, for reports and the day's list).",
    "description": "Free text shown to customers.",
    # Time
    "occurred_at": "When the purchase happened: RFC 3339 with an offset (`2026-03-01T10:00:00Z`); "
                   "default now; may be in the past (imports), not more than 5 minutes ahead.",
    "starts_at": "RFC 3339 timestamp with an offset: when it starts (inclusive).",
    "ends_at": "RFC 3339 timestamp with an offset: when it ends (exclusive); after `starts_at`.",
    "from": "A date, YYYY-MM-DD, taken as UTC midnight: the first day counted (inclusive).",
    "to": "A date, YYYY-MM-DD, taken as UTC midnight: the end (exclusive); after `from`.",
    "window_days": "Days after each member's first event in which a purchase counts (1–365).",
    "date": "A UTC day, YYYY-MM-DD.",
    "format": "`json` (default) or `csv`: the same rows as CSV, nested fields as parent_child.",
    # The program (PATCH /v1/program)
    "earn_rates": "Points per one major unit, by currency: {\"usd\": \"1\", \"jpy\": \"0.01\"} "
                  "(decimal strings). A currency missing here earns nothing: its purchases are 422 "
                  "`currency_not_enabled`.",
    "point_value": "What one point is worth to the shop, as money ({amount, currency}, amount in "
                   "minor units): the points report values the outstanding points with it.",
    "tier_window_days": "Days of qualifying points that decide a member's tier (trailing window).",
    "tier_retention_days": "Days a reached tier is kept at least, whatever the window says later.",
    "pending_days": "Days a purchase's points stay pending (not spendable), e.g. a return window; "
                    "0 = spendable at once.",
    "expiry_policy": "`none`; `inactivity`: the whole balance expires `expiry_days` after the "
                     "member's latest purchase; `fixed`: each purchase's points expire `expiry_days` "
                     "after it.",
    "expiry_days": "Days until points expire under `expiry_policy`; required unless it is `none`.",
    "signup_bonus": "Points given on enrolment (0 = none).",
    "birthday_bonus": "Points given once a year in the member's birthday month (0 = none).",
    "auto_enroll": "Whether a Stripe payment from an unknown buyer enrols them (true) or waits, "
                   "parked, until such a member exists (false).",
    # Tiers, rewards, campaigns
    "min_qualifying_points": "Qualifying points within the tier window needed to hold the tier; "
                             "0 makes it everyone's entry tier (at most one such tier).",
    "benefits": "What the tier gives, as short lines of text for people.",
    "cost_points": "Points a redemption of the reward takes from the balance.",
    "per_member_limit": "How many times one member may redeem it (null = no limit).",
    "voucher_valid_days": "Days an issued voucher can be used before it expires (its points return).",
    "holdout_percent": "Share of the members in scope (0–50 %) who do not get the multiplier, to "
                       "measure what the campaign changed.",
    # Service desk
    "purchase_id": "One of the member's purchases (`pur_...`) it is about; optional.",
    "comment": "The customer's own words (at most 2,000 characters).",
    "subject": "A one-line summary of the case (1–200 characters).",
    "category": "What the case is about: product, service, delivery, billing, points or other.",
    "assignee_id": "A staff member's `id` (`stf_...`), or null for nobody.",
    "text": "The text, as people will read it.",
    "resolution": "How the case was resolved, in words (1–2,000 characters).",
    "use_now": "true at the till: issue the voucher and use it in one step. Default false.",
}


def describe_by_name(converter, field, ret, **kwargs) -> dict:
    """apispec attribute function: the shared description of a field that has none of its own."""
    if "description" in ret:
        return {}
    name = field.data_key or field.name
    description = BY_NAME.get(name)
    return {"description": description} if description else {}
