"""The earning rule (API.md, Rules: Earning), as pure functions of exact decimals."""
from decimal import ROUND_FLOOR, Decimal, localcontext

from loyalty.currency import exponent


def _floor(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


def qualifying_points(amount: int, currency: str, rate: Decimal) -> int:
    """floor(amount × r / 10^e): what counts towards tiers."""
    return earned_points(amount, currency, rate, Decimal(1), Decimal(1))


def earned_points(amount: int, currency: str, rate: Decimal, tier_multiplier: Decimal,
                  campaign_multiplier: Decimal) -> int:
    """floor(amount × r × m × c / 10^e), computed without rounding until the floor."""
    with localcontext() as ctx:
        ctx.prec = 60
        scaled = Decimal(amount) * rate * tier_multiplier * campaign_multiplier
        return _floor(scaled.scaleb(-exponent(currency)))
