"""The earning rule (API.md, Rules: Earning), as pure functions of exact numbers."""
import functools
from decimal import Decimal
from fractions import Fraction

from loyalty.currency import exponent


def qualifying_points(amount: int, currency: str, rate: Decimal) -> int:
    """floor(amount × r / 10^e): what counts towards tiers."""
    return earned_points(amount, currency, rate, Decimal(1), Decimal(1))


def earned_points(amount: int, currency: str, rate: Decimal, tier_multiplier: Decimal,
                  campaign_multiplier: Decimal) -> int:
    """floor(amount × r × m × c / 10^e), computed without rounding until the floor."""
    numerator, denominator = points_ratio(currency, rate, tier_multiplier, campaign_multiplier)
    return amount * numerator // denominator  # integers: exact, and // is the floor


@functools.lru_cache(maxsize=4096)
def points_ratio(currency: str, rate: Decimal, tier_multiplier: Decimal,
                 campaign_multiplier: Decimal) -> tuple[int, int]:
    """r × m × c / 10^e as an exact fraction (numerator, positive denominator): the points of an
    amount are `amount × numerator // denominator`. A program has few such products, so each is
    worked out once (an import prices millions of purchases with a handful of them)."""
    ratio = Fraction(rate) * Fraction(tier_multiplier) * Fraction(campaign_multiplier) / 10 ** exponent(currency)
    return ratio.numerator, ratio.denominator
