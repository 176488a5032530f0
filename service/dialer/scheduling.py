"""What a campaign's status change means for its contacts, in the transaction of the change.

The campaigns feature owns the status machine and is handed this as its CampaignRunner (built once, before it:
service/dialer/runtime.py), so it never imports the dialer; the dialer's jobs do the rest after the commit.
"""

from __future__ import annotations

import uuid

import asyncpg

from service.campaigns.schemas import ProgressOut
from service.dialer import progress, repository
from service.jobs import enqueue


class CampaignDialing:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def status_changed(self, connection: asyncpg.Connection, campaign_id: uuid.UUID, status: str) -> None:
        """Active: every member not yet targeted becomes due and a pump is queued. Completed: what is left is
        canceled (calls in progress finish). Paused: nothing here; every claim re-reads the status."""
        if status == "active":
            await self.members_changed(connection, campaign_id)
        elif status == "completed":
            await repository.cancel_pending(connection, campaign_id)
        await progress.publish(connection, campaign_id)

    async def members_changed(self, connection: asyncpg.Connection, campaign_id: uuid.UUID) -> None:
        """New members of an active campaign are due at once."""
        await repository.ensure_rules(connection, campaign_id)
        await repository.add_targets(connection, campaign_id)
        await enqueue(
            connection, "dialer.run", {"campaignId": str(campaign_id)}, dedupe_key=f"dialer.run:{campaign_id}:start"
        )

    async def progress(self, owner: uuid.UUID, campaign_id: uuid.UUID) -> ProgressOut:
        return await progress.progress_of(self.pool, owner, campaign_id)
