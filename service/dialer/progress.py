"""A campaign's live progress: counters computed from its targets and calls, and the event that pushes them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from service.campaigns.schemas import ProgressOut
from service.dialer import repository
from service.jobs import enqueue
from service.realtime import publish as publish_event

EVENT = "campaign.progress"
# Events while a campaign runs come at most this often (one per campaign, a deduplicated job).
EVENT_INTERVAL = timedelta(seconds=1)


async def progress_of(db: repository.Executor, owner: uuid.UUID, campaign_id: uuid.UUID) -> ProgressOut:
    row = await repository.progress(db, owner, campaign_id)
    dialed, appointments = row["dialed"], row["appointments_set"]
    remaining = row["to_call"] + row["in_progress"]
    # The pace is what the dialer achieved over the last minute (or since its first dial in it, so a campaign
    # that started 10 s ago is not judged over 60); the estimate assumes it holds.
    pace = row["last_minute"] / max(row["pace_span"] or 0.0, 1.0)
    finish = datetime.now(UTC) + timedelta(seconds=remaining / pace) if remaining and pace else None
    return ProgressOut(
        to_call=row["to_call"],
        in_progress=row["in_progress"],
        dialed=dialed,
        answered=row["answered"],
        appointments_set=appointments,
        voicemail=row["voicemail"],
        no_answer=row["no_answer"],
        opted_out=row["opted_out"],
        do_not_call=row["do_not_call"],
        unreachable=row["unreachable"],
        no_time_zone=row["no_time_zone"],
        failed=row["failed"],
        conversion_rate=round(100 * appointments / dialed, 2) if dialed else 0.0,
        calls_per_second=round(pace, 3),
        estimated_finish_at=finish,
    )


async def publish(connection: asyncpg.Connection, campaign_id: uuid.UUID, *, reason: str | None = None) -> None:
    """`campaign.progress` to the owner, in the caller's transaction (publish last: it takes the events lock)."""
    owner = await repository.owner_of(connection, campaign_id)
    if owner is None:
        return
    counters = await progress_of(connection, owner, campaign_id)
    status = await repository.campaign_status(connection, campaign_id)
    data = {"campaignId": str(campaign_id), "status": status, "reason": reason, "progress": counters}
    await publish_event(connection, [owner], EVENT, data)


async def schedule(connection: asyncpg.Connection, campaign_id: uuid.UUID) -> None:
    """A progress event soon; many changes within EVENT_INTERVAL share one."""
    await enqueue(
        connection,
        "dialer.publish_progress",
        {"campaignId": str(campaign_id)},
        dedupe_key=f"dialer.progress:{campaign_id}",
        run_after=EVENT_INTERVAL,
    )
