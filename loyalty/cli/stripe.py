"""`flask --app wsgi loyalty stripe-replay` and `stripe-sync`."""
import json
import sys
from collections import Counter
from datetime import timezone

import click
from flask import current_app

from loyalty.cli import loyalty_cli
from loyalty.extensions import db
from loyalty.payments import events, sync
from loyalty.payments.stripe import StripeApiError


@loyalty_cli.command("stripe-replay")
@click.option("--status", required=True, type=click.Choice(["failed", "parked"]),
              help="Which events to apply again.")
def stripe_replay(status):
    """Apply again every Stripe event that failed or is parked, oldest first, one transaction each."""
    outcomes = Counter()
    for event_id in sync.parked_or_failed(status):
        row = events.replay(event_id)
        outcomes[row.status] += 1
        db.session.commit()  # each event on its own: one that fails again does not undo the others
        click.echo(f"{event_id} {row.type}: {row.status}")
    click.echo(f"Replayed {sum(outcomes.values())} {status} event(s): {_summary(outcomes)}.")


@loyalty_cli.command("stripe-sync")
@click.option("--since", required=True, type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Fetch events Stripe created on or after this date (UTC), YYYY-MM-DD.")
def stripe_sync(since):
    """Apply the Stripe events this server missed (listed through Stripe's API with STRIPE_API_KEY)."""
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
    for event in missed:
        row, _ = events.receive(event, json.dumps(event))
        outcomes[row.status] += 1
        db.session.commit()
        click.echo(f"{row.id} {row.type}: {row.status}")
    click.echo(f"Applied {sum(outcomes.values())} missed event(s): {_summary(outcomes)}.")


def _summary(outcomes: Counter) -> str:
    return ", ".join(f"{count} {status}" for status, count in sorted(outcomes.items())) or "none"
