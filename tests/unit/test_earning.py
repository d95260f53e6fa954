"""The earning rule (API.md, Rules: Earning) as tables: floor(amount × r × m × c / 10^e)."""
from decimal import Decimal

import pytest

from loyalty.earning import earned_points, qualifying_points


@pytest.mark.parametrize("amount, currency, rate, tier, campaign, points", [
    (1234, "usd", "1", "1", "1", 12),         # $12.34 at 1 point a dollar
    (99, "usd", "1", "1", "1", 0),            # under a dollar earns nothing
    (100, "usd", "1", "1", "1", 1),
    (150000, "jpy", "0.01", "1", "1", 1500),  # zero-decimal currency
    (99, "jpy", "0.01", "1", "1", 0),         # 0.99 floors to nothing
    (12345, "kwd", "1", "1", "1", 12),        # three-decimal currency
    (999, "kwd", "1", "1", "1", 0),
    (300, "usd", "1.1", "1", "1", 3),         # 3.3: exact decimals, not floats
    (1000, "usd", "1.1", "1", "1", 11),
    (10000, "usd", "1", "1.5", "1", 150),     # tier multiplier
    (10000, "usd", "1", "1.5", "2", 300),     # tier and campaign multiply
    (333, "usd", "1", "1.5", "2", 9),         # 3.33 × 3 = 9.99: one floor at the end, not per factor
    (101, "usd", "0.99", "1", "1", 0),        # 0.9999 floors to 0
    (10**15, "usd", "1.000001", "1.25", "1.5", 18750018750000),  # large amounts stay exact
])
def test_earned_points(amount, currency, rate, tier, campaign, points):
    assert earned_points(amount, currency, Decimal(rate), Decimal(tier), Decimal(campaign)) == points


@pytest.mark.parametrize("amount, currency, rate, points", [
    (1234, "usd", "1", 12),
    (150000, "jpy", "0.01", 1500),
    (12345, "kwd", "2", 24),
    (0, "usd", "1", 0),
])
def test_qualifying_points_ignore_multipliers(amount, currency, rate, points):
    """What counts towards tiers is the base earning: no tier or campaign multiplier."""
    assert qualifying_points(amount, currency, Decimal(rate)) == points


@pytest.mark.parametrize("amount, refunded, points_left", [
    (10000, 2500, 75),  # partial refund
    (10000, 10000, 0),  # full refund
    (10000, 1, 99),     # a cent off $100.00: floor(99.99)
    (10000, 9999, 0),
])
def test_a_refund_leaves_the_points_of_the_net_amount(amount, refunded, points_left):
    assert earned_points(amount - refunded, "usd", Decimal(1), Decimal(1), Decimal(1)) == points_left


def _by_decimals(amount, currency, rate, tier, campaign) -> int:
    """The rule as the decimals spell it (what earned_points computed before issue 21)."""
    from decimal import ROUND_FLOOR, localcontext

    from loyalty.currency import exponent

    with localcontext() as ctx:
        ctx.prec = 60
        scaled = (Decimal(amount) * rate * tier * campaign).scaleb(-exponent(currency))
        return int(scaled.to_integral_value(rounding=ROUND_FLOOR))


def test_the_integer_form_gives_what_the_decimals_give_to_the_last_point():
    """earned_points works in exact integers (an import prices millions of purchases): random
    amounts, rates and multipliers of up to 6 places, and every boundary amount of a multiplier."""
    import random

    rng = random.Random(21)
    places = lambda: Decimal(rng.randrange(1, 5_000_000)).scaleb(-rng.randrange(0, 7))  # noqa: E731
    for _ in range(20_000):
        currency = rng.choice(["usd", "jpy", "kwd", "eur"])
        amount = rng.choice([rng.randrange(1, 100_000), rng.randrange(1, 10**15 + 1)])
        rate, tier, campaign = places(), rng.choice([Decimal(1), places()]), rng.choice([Decimal(1), places()])
        assert earned_points(amount, currency, rate, tier, campaign) == _by_decimals(amount, currency, rate, tier, campaign)
    for amount in range(1, 2000):  # each step where floor(amount × 1.25 × 1.1 / 100) moves
        args = ("usd", Decimal("1.25"), Decimal("1.1"), Decimal("1.000001"))
        assert earned_points(amount, *args) == _by_decimals(amount, *args)
