"""Putting jobs on the queue, inside the caller's transaction, and the operator's view of it.

The queue is pgqueuer's table. Its own queries run on the caller's connection, so the job row is part of the
caller's transaction: a rollback leaves no job, a commit always has one. pgqueuer's trigger sends its NOTIFY
in that transaction too, so a worker wakes when it commits, not before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import msgspec
from pgqueuer.adapters.drivers.asyncpg import AsyncpgDriver
from pgqueuer.adapters.persistence import qb
from pgqueuer.adapters.persistence.queries import Queries
from pgqueuer.domain import models

from service.jobs.registry import JOBS

# Built once: pgqueuer reads its settings (table names) when a builder is made.
_BUILDERS = {"qbe": qb.QueryBuilderEnvironment(), "qbq": qb.QueryQueueBuilder(), "qbs": qb.QuerySchedulerBuilder()}
_encode = msgspec.json.Encoder().encode


ENQUEUE = _BUILDERS["qbq"].build_enqueue_query("skip")  # type: ignore[attr-defined]


class WakingQueries(Queries):
    """pgqueuer's queries, except that putting a job back on the queue wakes the workers.

    pgqueuer's trigger is statement-level, where OLD and NEW are NULL, so its `UPDATE ... IS DISTINCT FROM` test
    never fires: a retry (`retry_job`) or a requeue of a failed job sends no NOTIFY, and an idle worker would only
    see it on its next poll. These send the same notice its trigger sends for an INSERT, after the UPDATE; the
    worker then reads the job's `execute_after` and sleeps exactly until it is due.
    """

    async def retry_job(self, job: models.Job, delay: timedelta, traceback_record: Any) -> None:
        await super().retry_job(job, delay, traceback_record)
        await self.announce_change()

    async def requeue_jobs(self, ids: list[Any]) -> None:
        await super().requeue_jobs(ids)
        await self.announce_change()

    async def announce_change(self) -> None:
        channel = self.qbq.settings.channel
        event = models.TableChangedEvent(
            channel=channel,
            sent_at=models.utc_now(),
            type="table_changed_event",
            operation="update",
            table=self.qbq.settings.queue_table,
        )
        await self.driver.notify(channel, event.model_dump_json())


def queries(connection: asyncpg.Connection) -> WakingQueries:
    """pgqueuer's queries on this connection (and whatever transaction it is in)."""
    return WakingQueries(AsyncpgDriver(connection), **_BUILDERS)  # type: ignore[arg-type]


async def enqueue(
    conn: asyncpg.Connection,
    name: str,
    payload: dict[str, Any],
    *,
    dedupe_key: str | None = None,
    run_after: datetime | timedelta | None = None,
) -> int | None:
    """Queue job `name` with a JSON payload; returns its id.

    Call it inside the transaction of the write that causes the job. With `dedupe_key`, a job with the same key
    that is still queued or running makes this a no-op (returns None) instead of failing the transaction.
    """
    if name not in JOBS:
        raise ValueError(f"no job is registered as {name!r}")
    delay = run_after - datetime.now(UTC) if isinstance(run_after, datetime) else run_after or timedelta(0)
    # pgqueuer's own enqueue query; its Python wrapper pre-encodes headers as JSON text, which the pool's jsonb
    # codec would encode a second time, so the arguments are passed here, as lists of one (it inserts in bulk).
    rows = await conn.fetch(ENQUEUE, [0], [name], [_encode(payload)], [max(delay, timedelta(0))], [dedupe_key], [None])
    job_id = rows[0]["id"] if rows else None
    return job_id


@dataclass(frozen=True, slots=True)
class JobRow:
    id: int
    name: str
    status: str
    attempts: int
    created: datetime
    run_after: datetime
    error: str | None


LIST_JOBS = """
SELECT q.id, q.entrypoint, q.status::text, q.attempts, q.created, q.execute_after,
       (SELECT l.traceback->>'exception_message' FROM pgqueuer_log l
        WHERE l.job_id = q.id AND l.traceback IS NOT NULL ORDER BY l.created DESC, l.id DESC LIMIT 1)
FROM pgqueuer q
WHERE ($1 = false OR q.status = 'failed')
ORDER BY q.id DESC
LIMIT $2
"""


async def list_jobs(conn: asyncpg.Connection, *, failed_only: bool, limit: int = 100) -> list[JobRow]:
    """Jobs still in the queue (queued, running, or failed for good), newest first, with their last error."""
    rows = await conn.fetch(LIST_JOBS, failed_only, limit)
    return [JobRow(*row) for row in rows]


async def retry(conn: asyncpg.Connection, job_id: int) -> bool:
    """Queue a failed job again with its attempts reset; False if no failed job has that id."""
    async with conn.transaction():
        found = await conn.fetchval("SELECT true FROM pgqueuer WHERE id = $1 AND status = 'failed' FOR UPDATE", job_id)
        if found:
            await queries(conn).requeue_jobs([job_id])  # type: ignore[list-item]
    return bool(found)
