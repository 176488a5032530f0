"""What a campaign's status change means for its contacts, in the transaction of the change.

Called by the campaigns feature (it owns the status machine); the dialer's jobs do the rest after the commit.
"""

from __future__ import annotations

import uuid

import asyncpg

from service.dialer import progress, repository
from service.jobs import enqueue


async def status_changed(connection: asyncpg.Connection, campaign_id: uuid.UUID, status: str) -> None:
    """Active: every member not yet targeted becomes due and a pump is queued. Completed: what is left is
    canceled (calls in progress finish). Paused: nothing here; every claim re-reads the status."""
    if status == "active":
        await members_changed(connection, campaign_id)
    elif status == "completed":
        await repository.cancel_pending(connection, campaign_id)
    await progress.publish(connection, campaign_id)


async def members_changed(connection: asyncpg.Connection, campaign_id: uuid.UUID) -> None:
    """New members of an active campaign are due at once."""
    await repository.ensure_rules(connection, campaign_id)
    await repository.add_targets(connection, campaign_id)
    await enqueue(
        connection, "dialer.run", {"campaignId": str(campaign_id)}, dedupe_key=f"dialer.run:{campaign_id}:start"
    )
