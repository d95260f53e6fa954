"""Progress of long work, told to whoever runs it: the domain reports steps, the caller shows them.

Domain functions that run for long take a `progress` argument: `with progress(label, total) as
advance:` then `advance()` after each step. The default, `silent`, shows nothing; the CLI passes
`loyalty.cli.progress.on_terminal`, a progress bar when a person is watching.
"""
from contextlib import contextmanager
from typing import Callable, ContextManager, Protocol


class Progress(Protocol):
    def __call__(self, label: str, total: int) -> ContextManager[Callable[[int], None]]: ...


@contextmanager
def silent(label: str, total: int):
    """Progress nobody watches (tests, the API, cron)."""
    yield lambda steps=1: None
