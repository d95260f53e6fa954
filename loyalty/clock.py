"""The one source of "now", so tests and imports can set the time instead of sleeping."""
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone

_frozen: ContextVar[datetime | None] = ContextVar("frozen_now", default=None)


def now() -> datetime:
    """The current time in UTC, or the time set by `frozen`."""
    return _frozen.get() or datetime.now(timezone.utc)


@contextmanager
def frozen(moment: datetime):
    """Run a block as if the clock showed `moment` (timezone-aware)."""
    if moment.tzinfo is None:
        raise ValueError("frozen() needs a timezone-aware datetime")
    token = _frozen.set(moment.astimezone(timezone.utc))
    try:
        yield
    finally:
        _frozen.reset(token)


def timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with a `Z`, as the API shows times."""
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
