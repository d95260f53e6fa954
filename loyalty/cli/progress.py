"""Progress bars for long commands, on a terminal only: cron and pipes get the summary alone."""
import sys
from contextlib import contextmanager

import click


def watched() -> bool:
    """Is a person watching? The bar goes to standard error, so that is where to look."""
    return sys.stderr.isatty()


@contextmanager
def on_terminal(label: str, total: int):
    """click's progress bar on standard error when it is a terminal; nothing otherwise."""
    if not watched():
        yield lambda steps=1: None
        return
    with click.progressbar(length=total, label=label, file=sys.stderr, show_eta=True, show_percent=True,
                           show_pos=True) as bar:
        yield bar.update
