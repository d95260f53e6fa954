"""`flask --app wsgi loyalty ...`: the commands API.md names. Each parses, calls, commits, echoes."""
import sys
import time

import click
from flask.cli import AppGroup

from loyalty import jobs, ledger
from loyalty.extensions import db
from loyalty.cli import credentials, imports, reports, stripe, webhooks
from loyalty.cli.progress import on_terminal

loyalty_cli = AppGroup("loyalty", help="Loyalty program commands.")


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
    """Do all timed work (safe to run from cron every minute); prints one line of what was done."""
    started = time.monotonic()
    done = []
    with on_terminal("Running timed jobs", len(jobs.JOBS)) as advance:
        for name, summary in jobs.run_all(batch_done=db.session.commit):
            done.append(f"{name}: {summary}")
            advance(1)
    click.echo(f"Ran {len(done)} jobs in {time.monotonic() - started:.1f} s: {'; '.join(done)}.")


@loyalty_cli.command("demo")
@click.option("--members", default=300, show_default=True, help="How many members to enrol.")
@click.option("--seed", default=7, show_default=True, help="Random seed, for the same demo every time.")
def demo(members, seed):
    """Load a believable demo program: settings, members and a year of purchases."""
    from loyalty import demo as demo_data
    lines = demo_data.load(members=members, seed=seed, progress=on_terminal)
    db.session.commit()
    for line in lines:
        click.echo(line)


# The commands the other modules define, each under its own name (API.md, Operations).
for module in (credentials, imports, reports, stripe, webhooks):
    for command in module.commands.commands.values():
        loyalty_cli.add_command(command)
