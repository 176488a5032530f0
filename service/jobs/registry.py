"""The job registry: `@job` and `@periodic` name a feature's background tasks, at import of its jobs.py.

Only the worker runs handlers, but both the web service and the worker load the same registry (`load_jobs()`),
so `enqueue` can refuse a name no worker would ever pick up.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from service.config import Settings

# Every module that registers jobs. A new feature with a jobs.py adds itself here.
JOB_MODULES = (
    "service.auth.jobs",
    "service.realtime.jobs",
    "service.calls.jobs",
    "service.analytics.jobs",
    "service.dialer.jobs",
)

DEFAULT_MAX_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class JobContext:
    """What a handler gets besides its payload."""

    pool: asyncpg.Pool
    settings: Settings
    attempt: int  # 1-based; a handler on its last attempt has attempt == max_attempts
    job_id: int
    # External clients built once per worker (see service/jobs/clients.py), by name.
    clients: dict[str, Any] = field(default_factory=dict)


JobHandler = Callable[[JobContext, dict[str, Any]], Awaitable[None]]
PeriodicHandler = Callable[[JobContext], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class JobDefinition:
    name: str
    handler: JobHandler
    max_attempts: int
    # Retry n waits backoff_seconds * 2**(n-1), at most max_backoff_seconds.
    backoff_seconds: float
    max_backoff_seconds: float

    def retry_delay(self, attempt: int) -> float:
        return min(self.backoff_seconds * 2 ** (attempt - 1), self.max_backoff_seconds)


@dataclass(frozen=True, slots=True)
class PeriodicDefinition:
    name: str
    cron: str
    handler: PeriodicHandler


JOBS: dict[str, JobDefinition] = {}
PERIODIC: dict[str, PeriodicDefinition] = {}


def job(
    name: str,
    *,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    backoff_seconds: float = 1.0,
    max_backoff_seconds: float = 300.0,
) -> Callable[[JobHandler], JobHandler]:
    """Register `handler(ctx, payload)` under `name` ("feature.action"). Handlers must be idempotent."""
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")

    def register(handler: JobHandler) -> JobHandler:
        _claim(name)
        JOBS[name] = JobDefinition(name, handler, max_attempts, backoff_seconds, max_backoff_seconds)
        return handler

    return register


def periodic(name: str, *, cron: str) -> Callable[[PeriodicHandler], PeriodicHandler]:
    """Register `handler(ctx)` to run on a cron schedule (UTC), once per cluster however many workers run."""

    def register(handler: PeriodicHandler) -> PeriodicHandler:
        _claim(name)
        PERIODIC[name] = PeriodicDefinition(name, cron, handler)
        return handler

    return register


def _claim(name: str) -> None:
    if name in JOBS or name in PERIODIC:
        raise RuntimeError(f"job {name!r} is registered twice")


def load_jobs() -> None:
    for module in JOB_MODULES:
        importlib.import_module(module)
