"""`flask --app wsgi loyalty deliver-webhooks [--once]`: send outbound webhook deliveries."""
import signal
import threading

import click
from flask.cli import AppGroup

from loyalty.outbound import deliverer


# Gathered into `flask loyalty ...` by cli/__init__.py.
commands = AppGroup("webhooks")


@commands.command("deliver-webhooks")
@click.option("--once", is_flag=True, help="Send everything due now, then exit.")
def deliver_webhooks(once):
    """Send due webhook deliveries; without --once, keep going until SIGTERM or Ctrl-C.

    On SIGTERM the sends in flight finish and are recorded before it exits.
    """
    stop = threading.Event()

    def request_stop(signum, frame):
        stop.set()

    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, request_stop)
    attempts = deliverer.run(once=once, stop=stop)
    click.echo(f"deliver-webhooks: {attempts} attempt(s) made.")
