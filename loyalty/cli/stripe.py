"""`flask --app wsgi loyalty stripe-replay` and `stripe-sync`."""
import json
import sys
from collections import Counter
from datetime import timezone

import click
from flask.cli import AppGroup
from flask import current_app

from loyalty.cli.progress import on_terminal
from loyalty.extensions import db
from loyalty.payments import events, sync
from loyalty.payments.stripe import StripeApiError


# Gathered into `flask loyalty ...` by cli/__init__.py.
commands = AppGroup("stripe")


@commands.command("stripe-replay")
@click.option("--status", required=True, type=click.Choice(["failed", "parked"]),
              help="Which events to apply again.")
def stripe_replay(status):
    """Apply again every Stripe event that failed or is parked, oldest first, one transaction each.

    Prints each event that is still not applied (with its error), then one line of totals."""
    event_ids = sync.parked_or_failed(status)
    outcomes = Counter()
    with on_terminal(f"Replaying {status} events", len(event_ids)) as advance:
        for event_id in event_ids:
            row = events.replay(event_id)
            db.session.commit()  # each event on its own: one that fails again does not undo the others
            _tally(outcomes, row)
            advance(1)
    click.echo(f"Replayed {sum(outcomes.values())} {status} event(s): {_summary(outcomes)}.")


@commands.command("stripe-sync")
@click.option("--since", required=True, type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Fetch events Stripe created on or after this date (UTC), YYYY-MM-DD.")
def stripe_sync(since):
    """Apply the Stripe events this server missed (listed through Stripe's API with STRIPE_API_KEY).

    Prints each event that could not be applied (with its error), then one line of totals."""
    config = current_app.config
    if not config.get("STRIPE_API_KEY"):
        click.echo("Set STRIPE_API_KEY to list events through Stripe's API.", err=True)
        sys.exit(2)
    outcomes = Counter()
    try:
        missed = list(sync.missed_events(since.replace(tzinfo=timezone.utc), api_key=config["STRIPE_API_KEY"],
                                         api_base=config.get("STRIPE_API_BASE"),
                                         api_version=config.get("STRIPE_API_VERSION")))
    except StripeApiError as error:
        click.echo(f"Stripe refused to list events: {error}", err=True)
        sys.exit(1)
    with on_terminal("Applying missed events", len(missed)) as advance:
        for event in missed:
            row, _ = events.receive(event, json.dumps(event))
            db.session.commit()
            _tally(outcomes, row)
            advance(1)
    click.echo(f"Applied {sum(outcomes.values())} missed event(s): {_summary(outcomes)}.")


# Outcomes an operator has to act on: each such event gets a line of its own.
NEEDS_ATTENTION = ("failed", "parked")


def _tally(outcomes: Counter, row) -> None:
    outcomes[row.status] += 1
    if row.status in NEEDS_ATTENTION:
        reason = f" ({row.error})" if row.error else ""
        click.echo(f"{row.id} {row.type}: {row.status}{reason}")


def _summary(outcomes: Counter) -> str:
    return ", ".join(f"{count} {status}" for status, count in sorted(outcomes.items())) or "none"
