"""Credentials from the command line: API keys (create, list, revoke) and staff accounts."""
import sys
import time

import click
from flask.cli import AppGroup
import marshmallow as ma

from loyalty import auth, staff
from loyalty.api.staff import PASSWORD, StaffSchema
from loyalty.errors import LoyaltyError
from loyalty.extensions import db
from loyalty.reports.formatting import to_table

# Gathered into `flask loyalty ...` by cli/__init__.py.
commands = AppGroup("credentials")


@commands.command("create-api-key")
@click.option("--name", required=True, help="Who uses the key, e.g. 'web shop'.")
@click.option("--role", required=True, type=click.Choice(["admin", "storefront"]))
def create_api_key(name, role):
    """Create an API key; the key is printed once, alone on the last line."""
    key, plain = auth.create_api_key(name, role)
    db.session.commit()
    click.echo(f"Created {role} key {key.id} ({name}). Store it now; it is not shown again:")
    click.echo(plain)


def _when(moment, never: str) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else never


@commands.command("list-api-keys")
def list_api_keys():
    """List the API keys: id, name, role, created, last used, revoked (never the key itself).

    Last use is kept to within five minutes."""
    rows = [{"id": key.id, "name": key.name, "role": key.role, "created": _when(key.created_at, "-"),
             "last_used": _when(key.last_used_at, "never"), "revoked": _when(key.revoked_at, "no")}
            for key in auth.api_keys()]
    click.echo(to_table(rows, ["id", "name", "role", "created", "last_used", "revoked"]))


@commands.command("revoke-api-key")
@click.argument("key_id")
def revoke_api_key(key_id):
    """Revoke the API key KEY_ID (an id from list-api-keys): once this returns, its next request is
    refused with 401 by every server."""
    try:
        key = auth.revoke_api_key(key_id)
    except LoyaltyError as error:
        raise click.ClickException(error.message) from None
    db.session.commit()
    # Workers take a key they found valid for this long without a look-up: once it has passed,
    # none of them takes this one any more.
    time.sleep(auth.API_KEY_RECHECK_SECONDS + auth.CLOCK_RATE_MARGIN_SECONDS)
    click.echo(f"Revoked {key.role} key {key.id} ({key.name}) as of {_when(key.revoked_at, '-')}; "
               "every server refuses it now.")


def _check_password(password: str) -> str:
    """The API's rule for staff passwords (loyalty.api.staff.PASSWORD)."""
    try:
        return PASSWORD(password)
    except ma.ValidationError as error:
        raise click.BadParameter(" ".join(error.messages), param_hint="password") from None


@commands.command("create-staff")
@click.option("--email", required=True, help="The staff member's login.")
@click.option("--name", required=True, help="As shown at the till, e.g. 'Ana Silva'.")
@click.option("--role", required=True, type=click.Choice(["cashier", "manager"]))
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of standard input instead of asking for it.")
def create_staff(email, name, role, password_stdin):
    """Create a cashier or manager account (asks for the password twice, unless --password-stdin)."""
    if password_stdin:
        password = _check_password(sys.stdin.readline().rstrip("\r\n"))
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True,
                                value_proc=_check_password)
    try:  # the API's rules for every field
        fields = StaffSchema().load({"email": email, "name": name, "role": role, "password": password})
    except ma.ValidationError as error:
        problems = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in error.messages.items())
        raise click.UsageError(problems) from None
    try:
        account = staff.create_staff(fields["email"], fields["name"], fields["role"], fields["password"])
    except LoyaltyError as error:
        raise click.ClickException(error.message) from None
    db.session.commit()
    click.echo(f"Created {role} {account.email} ({account.id}); they sign in with POST /v1/staff/sessions.")
