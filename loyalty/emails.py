"""How an email address is compared: the one normalisation for members, staff, the till's
search and Stripe events (stored normalised, so a lookup is an equality)."""


def normalise_email(email: str) -> str:
    """The address as stored and compared: without surrounding spaces, in lower case."""
    return email.strip().lower()
