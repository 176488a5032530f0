"""The benchmark's no-op job: it only notes when it started (loaded by `reachimpact worker --import`)."""

from __future__ import annotations

import time
from typing import Any

from service.jobs import JobContext, job

STARTS: list[float] = []


@job("bench.noop", max_attempts=1)
async def noop(ctx: JobContext, payload: dict[str, Any]) -> None:
    if "sent" in payload:  # latency probes record their start; throughput jobs do nothing at all
        await ctx.pool.execute("INSERT INTO bench_starts VALUES ($1, $2)", payload["sent"], time.time())
