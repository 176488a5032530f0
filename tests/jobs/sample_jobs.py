"""Jobs the tests run in real worker processes (`reachimpact worker --import tests.jobs.sample_jobs`).

Each records its runs in `job_effects`, so a test sees what ran, how often and on which attempt.
"""

from __future__ import annotations

import asyncio
from typing import Any

from service.jobs import JobContext, job

CREATE_EFFECTS = """
CREATE TABLE IF NOT EXISTS job_effects (
    id bigserial PRIMARY KEY, key text NOT NULL, attempt int NOT NULL, outcome text NOT NULL
);
CREATE TABLE IF NOT EXISTS job_results (key text PRIMARY KEY, runs int NOT NULL DEFAULT 1)
"""


async def record(ctx: JobContext, key: str, outcome: str) -> None:
    await ctx.pool.execute(
        "INSERT INTO job_effects (key, attempt, outcome) VALUES ($1, $2, $3)", key, ctx.attempt, outcome
    )


@job("tests.record", max_attempts=3)
async def record_once(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Idempotent by design: the effect is keyed, so running it twice still leaves one row."""
    await ctx.pool.execute("INSERT INTO job_results (key) VALUES ($1) ON CONFLICT (key) DO NOTHING", payload["key"])
    await record(ctx, payload["key"], "done")


@job("tests.flaky", max_attempts=3, backoff_seconds=0.1)
async def flaky(ctx: JobContext, payload: dict[str, Any]) -> None:
    if ctx.attempt < payload["succeed_on"]:
        await record(ctx, payload["key"], "failed")
        raise RuntimeError(f"attempt {ctx.attempt} failed on purpose")
    await record(ctx, payload["key"], "done")


@job("tests.slow", max_attempts=3)
async def slow(ctx: JobContext, payload: dict[str, Any]) -> None:
    await record(ctx, payload["key"], "started")
    await asyncio.sleep(payload["seconds"])
    await record(ctx, payload["key"], "done")
