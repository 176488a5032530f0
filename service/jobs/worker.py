"""`reachimpact worker`: runs the registered jobs and periodic tasks on pgqueuer.

- pgqueuer talks to PostgreSQL over one dedicated connection (its LISTEN wakes the worker when a job commits);
  handlers get the ordinary pool. If that connection dies, the worker reconnects with backoff.
- A failing handler is retried with exponential backoff until its max_attempts, then the job is held with status
  `failed` and its error (`reachimpact jobs list --failed`, `reachimpact jobs retry ID`).
- Periodic tasks are claimed through pgqueuer's schedules table (FOR UPDATE SKIP LOCKED): once per cluster.
- SIGTERM stops taking jobs and lets running ones finish within the grace period. Past it, the running jobs are
  put back on the queue and the process exits. A worker killed outright (kill -9) leaves its jobs `picked`;
  their heartbeat goes stale and another worker takes them again after the heartbeat timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
import msgspec
import structlog
from pgqueuer import PgQueuer
from pgqueuer.domain.errors import RetryRequested
from pgqueuer.domain.models import Job, Schedule

from service.config import Settings
from service.db.pool import DATABASE_TROUBLE, create_pool
from service.jobs.clients import build_clients
from service.jobs.queue import queries
from service.jobs.registry import JOBS, PERIODIC, JobContext, JobDefinition, PeriodicDefinition

log = structlog.get_logger("worker")

APPLICATION_NAME = "reachimpact-worker"
RECONNECT_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0)
EXIT_GRACE_EXPIRED = 3
# Every change that makes a job runnable wakes the worker by NOTIFY: new jobs by pgqueuer's INSERT trigger,
# retries and requeues by WakingQueries (queue.py), and a deferred job by its own `execute_after`, which pgqueuer
# sleeps until. The one thing nothing announces is a worker dying mid-job: its job becomes runnable again when
# its heartbeat goes stale, so an idle worker looks that often (a fraction of the heartbeat timeout).
STALE_CHECKS_PER_TIMEOUT = 2
_decode = msgspec.json.Decoder().decode

RELEASE_PICKED = """
UPDATE pgqueuer SET status = 'queued', queue_manager_id = NULL, updated = now()
WHERE queue_manager_id = $1 AND status = 'picked'
"""


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    concurrency: int = 20
    grace_seconds: float = 30.0
    heartbeat_timeout_seconds: float = 30.0


class Worker:
    def __init__(self, settings: Settings, dsn: str, options: WorkerOptions) -> None:
        self.settings = settings
        self.dsn = dsn
        self.options = options
        self.stopping = asyncio.Event()
        self.pool: asyncpg.Pool | None = None
        self.clients: dict[str, Any] = {}

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.stopping.set)
        self.pool = await create_pool(
            self.dsn, min_size=1, max_size=max(2, min(self.options.concurrency, self.settings.db_pool_max))
        )
        self.clients = build_clients(self.settings)
        failures = 0
        try:
            while not self.stopping.is_set():
                try:
                    await self._run_queue()
                    failures = 0
                except DATABASE_TROUBLE as exc:
                    log.warning("worker lost its database connection; reconnecting", error=str(exc))
                    failures += 1
                if not self.stopping.is_set():
                    with contextlib.suppress(TimeoutError):
                        delay = RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)]
                        await asyncio.wait_for(self.stopping.wait(), delay)
        finally:
            await self.pool.close()
            for client in self.clients.values():  # kept-alive connections (Twilio, OpenAI) close with the loop
                if close := getattr(client, "close", None):
                    await close()
        log.info("worker stopped")

    async def _run_queue(self) -> None:
        connection = await asyncpg.connect(self.dsn, server_settings={"application_name": APPLICATION_NAME})
        try:
            waking = queries(connection)
            pgq = PgQueuer(connection=waking.driver, queries=waking)
            for definition in JOBS.values():
                pgq.entrypoint(definition.name, on_failure="hold", accepts_context=False)(self._entrypoint(definition))
            for periodic in PERIODIC.values():
                pgq.schedule(periodic.name, periodic.cron, accepts_context=False)(self._tick(periodic))
            batch = max(1, self.options.concurrency // 2)
            heartbeat_timeout = self.options.heartbeat_timeout_seconds
            running = asyncio.create_task(
                pgq.run(
                    dequeue_timeout=timedelta(seconds=heartbeat_timeout / STALE_CHECKS_PER_TIMEOUT),
                    batch_size=batch,
                    max_concurrent_tasks=batch * 2,
                    shutdown_on_listener_failure=True,
                    heartbeat_timeout=timedelta(seconds=heartbeat_timeout),
                )
            )
            stop = asyncio.create_task(self.stopping.wait())
            log.info("worker started", jobs=sorted(JOBS), periodic=sorted(PERIODIC), concurrency=batch * 2)
            await asyncio.wait({running, stop}, return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            if not self.stopping.is_set():
                await running  # raises what ended it
                raise ConnectionResetError("the queue's LISTEN connection failed its health check")
            log.info("SIGTERM: finishing running jobs", grace_seconds=self.options.grace_seconds)
            pgq.shutdown.set()
            try:
                await asyncio.wait_for(asyncio.shield(running), self.options.grace_seconds)
            except TimeoutError:
                await self._give_back(pgq)
        finally:
            connection.terminate()

    async def _give_back(self, pgq: PgQueuer) -> None:
        """Grace is over: queue the unfinished jobs again at once (not after the heartbeat timeout) and exit."""
        assert self.pool is not None
        released = await self.pool.execute(RELEASE_PICKED, pgq.qm.queue_manager_id)
        log.warning("grace period over: unfinished jobs queued again", released=released)
        os._exit(EXIT_GRACE_EXPIRED)  # no clean-up that could mark those jobs as done or cancelled

    def _context(self, attempt: int, job_id: int) -> JobContext:
        assert self.pool is not None
        return JobContext(self.pool, self.settings, attempt, job_id, self.clients)

    def _entrypoint(self, definition: JobDefinition) -> Any:
        async def run(job: Job) -> None:
            attempt = job.attempts + 1
            payload = _decode(job.payload) if job.payload else {}
            try:
                await definition.handler(self._context(attempt, job.id), payload)
            except Exception as exc:
                facts = {"job": definition.name, "job_id": job.id, "attempt": attempt, "error": str(exc)}
                if attempt >= definition.max_attempts:
                    log.error("job failed for good", **facts)
                    raise  # pgqueuer holds it as `failed`, with the traceback in its log
                delay = definition.retry_delay(attempt)
                log.warning("job failed; will retry", **facts)
                raise RetryRequested(timedelta(seconds=delay), f"{type(exc).__name__}: {exc}") from exc

        return run

    def _tick(self, periodic: PeriodicDefinition) -> Any:
        async def tick(_schedule: Schedule) -> None:
            try:
                await periodic.handler(self._context(1, 0))
            except Exception:  # the next tick runs anyway; say why this one failed
                log.exception("periodic task failed", task=periodic.name)

        return tick
