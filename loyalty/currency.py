"""ISO 4217 currencies and their minor-unit exponents: how many decimal places an amount's
integer hides (2 for usd, 0 for jpy, 3 for kwd).

The list comes from the `iso4217` package, which follows each ISO amendment; codes without a
minor unit (gold, SDRs, the testing code XXX...) cannot carry an amount in minor units, so they
are not currencies here.
"""
import iso4217

EXPONENTS = {currency.code.lower(): currency.exponent for currency in iso4217.Currency
             if currency.exponent is not None}


def exponent(currency: str) -> int:
    """The minor-unit exponent of a lowercase ISO 4217 code (KeyError for any other text)."""
    return EXPONENTS[currency]


def is_code(text: str) -> bool:
    """An ISO 4217 currency code, in any case."""
    return isinstance(text, str) and text.lower() in EXPONENTS
