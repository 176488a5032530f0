"""The periodic housekeeping jobs delete what has expired and nothing else."""

from __future__ import annotations

from service.auth.jobs import housekeeping
from service.db.pool import create_pool
from service.jobs import JobContext
from service.jobs.registry import PERIODIC, load_jobs
from service.realtime.jobs import purge_events


async def test_periodic_tasks_are_registered():
    load_jobs()
    assert {"auth.housekeeping", "realtime.purge_events"} <= set(PERIODIC)


async def test_housekeeping_purges_long_ended_sessions_and_old_events(db, database_url, settings, make_user):
    user = await make_user()
    await db.execute(
        """
        INSERT INTO auth_sessions (id, user_id, expires_at, revoked_at) VALUES
          (gen_random_uuid(), $1, now() + interval '1 day', now() - interval '8 days'),
          (gen_random_uuid(), $1, now() + interval '1 day', now() - interval '1 hour'),
          (gen_random_uuid(), $1, now() - interval '8 days', NULL)
        """,
        user.id,
    )
    await db.execute(
        """
        INSERT INTO events (audience, type, created_at)
        VALUES ($1, 'old', now() - interval '2 hours'), ($1, 'new', now())
        """,
        [user.id],
    )
    pool = await create_pool(database_url, min_size=1, max_size=2)
    try:
        ctx = JobContext(pool, settings, attempt=1, job_id=0)
        await housekeeping(ctx)
        await purge_events(ctx)
    finally:
        await pool.close()
    # make_user's live session and the recently revoked one stay; the long-revoked and long-expired ones go.
    assert await db.fetchval("SELECT count(*) FROM auth_sessions WHERE user_id = $1", user.id) == 2
    assert [r["type"] for r in await db.fetch("SELECT type FROM events")] == ["new"]
