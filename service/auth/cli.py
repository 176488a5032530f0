"""`reachimpact users ...`: account chores for operators (here, not in users: creating one hashes a password)."""

from __future__ import annotations

import asyncio
import re

import click

from service.auth.passwords import Passwords
from service.cli_settings import database_url, load_settings
from service.config import Settings
from service.db.models.base import uuid7
from service.db.pool import connect
from service.users.schemas import EMAIL_PATTERN, normalize_email

PROMOTE = "UPDATE users SET role = 'admin', updated_at = now() WHERE email = $1 RETURNING id"
CREATE = """
INSERT INTO users (id, email, full_name, role, password_hash, password_changed_at, auth_providers)
VALUES ($1, $2, $3, 'admin', $4, now(), '{password}')
"""


@click.group("users")
def users() -> None:
    """Manage accounts."""


@users.command("create-admin")
@click.argument("email")
@click.option("--name", default="Administrator", show_default=True, help="Full name of a new account.")
def create_admin(email: str, name: str) -> None:
    """Make EMAIL an administrator: promote the account, or create it (the password is prompted for)."""
    email = normalize_email(email)
    if not re.match(EMAIL_PATTERN, email):
        raise click.BadParameter(f"{email!r} is not an email address", param_hint="EMAIL")
    settings = load_settings()
    click.echo(asyncio.run(_create_admin(database_url(settings), settings, email, name)))


async def _create_admin(dsn: str, settings: Settings, email: str, name: str) -> str:
    connection = await connect(dsn)
    try:
        if await connection.fetchval(PROMOTE, email):
            return f"{email} is now an administrator (from its next token refresh or login)"
        password = click.prompt("Password for the new account", hide_input=True, confirmation_prompt=True)
        if len(password) < 8:
            raise click.BadParameter("the password needs at least 8 characters")
        password_hash = Passwords(settings).hasher.hash(password)
        await connection.execute(CREATE, uuid7(), email, name, password_hash)
        return f"created administrator {email}"
    finally:
        await connection.close()
