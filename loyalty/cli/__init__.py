"""`flask --app wsgi loyalty ...`: the commands API.md names. Each parses, calls, commits, echoes."""
import sys

import click
from flask.cli import AppGroup

from loyalty import auth, jobs, ledger
from loyalty.extensions import db

loyalty_cli = AppGroup("loyalty", help="Loyalty program commands.")


@loyalty_cli.command("create-api-key")
@click.option("--name", required=True, help="Who uses the key, e.g. 'web shop'.")
@click.option("--role", required=True, type=click.Choice(["admin", "storefront"]))
def create_api_key(name, role):
    """Create an API key; the key is printed once, alone on the last line."""
    key, plain = auth.create_api_key(name, role)
    db.session.commit()
    click.echo(f"Created {role} key {key.id} ({name}). Store it now; it is not shown again:")
    click.echo(plain)


@loyalty_cli.command("verify-ledger")
def verify_ledger():
    """Check every cached balance against its entries; exit 1 on any difference."""
    problems = 0
    for member_id, cached, total in ledger.drifted_members():
        problems += 1
        click.echo(f"DRIFT {member_id}: cached balance {cached}, entries sum to {total}")
    for member_id, entry_id in ledger.broken_chains():
        problems += 1
        click.echo(f"CHAIN {member_id}: entry {entry_id} does not follow the previous balance")
    for member_id, cached, pending in ledger.drifted_pending():
        problems += 1
        click.echo(f"PENDING {member_id}: cached pending {cached}, purchases hold {pending}")
    if problems:
        click.echo(f"{problems} problem(s) found.")
        sys.exit(1)
    click.echo("Ledger verified: every balance equals the sum of its entries.")


@loyalty_cli.command("run-jobs")
def run_jobs():
    """Do all timed work (safe to run from cron every minute)."""
    for name, done in jobs.run_all():
        click.echo(f"{name}: {done}")


@loyalty_cli.command("demo")
@click.option("--members", default=300, show_default=True, help="How many members to enrol.")
@click.option("--seed", default=7, show_default=True, help="Random seed, for the same demo every time.")
def demo(members, seed):
    """Load a believable demo program: settings, members and a year of purchases."""
    from loyalty import demo as demo_data

    summary = demo_data.load(members=members, seed=seed)
    for line in summary:
        click.echo(line)


# Commands kept in their own modules register themselves on loyalty_cli when imported.
from loyalty.cli import imports, reports, stripe  # noqa: E402,F401
