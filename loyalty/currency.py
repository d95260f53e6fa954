"""ISO 4217 minor-unit exponents: how many decimal places an amount's integer hides."""

ZERO_DECIMAL = frozenset(
    "bif clp djf gnf isk jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split()
)
THREE_DECIMAL = frozenset("bhd iqd jod kwd lyd omr tnd".split())


def exponent(currency: str) -> int:
    """The minor-unit exponent of a lowercase currency code (2 unless ISO 4217 says otherwise)."""
    if currency in ZERO_DECIMAL:
        return 0
    if currency in THREE_DECIMAL:
        return 3
    return 2


def is_code(text: str) -> bool:
    return len(text) == 3 and text.isascii() and text.isalpha()
