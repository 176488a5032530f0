"""Jobs: enqueued in the caller's transaction, run by real `reachimpact worker` processes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from service.jobs import enqueue
from tests.jobs import sample_jobs

REACHIMPACT = str(Path(sys.executable).parent / "reachimpact")
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
async def effects(db):
    await db.execute(sample_jobs.CREATE_EFFECTS)


def start_worker(database_url: str, *options: str) -> subprocess.Popen:
    return subprocess.Popen(
        [REACHIMPACT, "worker", "--import", "tests.jobs.sample_jobs", *options],
        env={
            **os.environ,
            "DATABASE_URL": database_url,
            "JWT_SECRET": "x" * 40,
            "LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(REPO),
        },
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def jobs_cli(database_url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [REACHIMPACT, "jobs", *args],
        env={**os.environ, "DATABASE_URL": database_url, "JWT_SECRET": "x" * 40},
        capture_output=True,
        text=True,
    )


async def wait_for(db, query: str, expected, *args, within: float = 60.0):
    # The ceiling only matters when the test fails; a worker process starting on a loaded machine can take 20 s.
    deadline = time.monotonic() + within
    while True:
        value = await db.fetchval(query, *args)
        if value == expected or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.05)


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> int:
    if process.poll() is None:
        process.send_signal(sig)
    return process.wait(timeout=30)


async def test_a_rolled_back_transaction_leaves_no_job(db):
    with pytest.raises(RuntimeError):
        async with db.transaction():
            await enqueue(db, "tests.record", {"key": "never"})
            raise RuntimeError("the request failed")
    assert await db.fetchval("SELECT count(*) FROM pgqueuer") == 0


async def test_a_committed_transaction_has_its_job(db):
    async with db.transaction():
        job_id = await enqueue(db, "tests.record", {"key": "a"})
    row = await db.fetchrow("SELECT entrypoint, status::text, payload FROM pgqueuer WHERE id = $1", job_id)
    assert (row["entrypoint"], row["status"]) == ("tests.record", "queued")
    assert row["payload"] == b'{"key":"a"}'


async def test_a_dedupe_key_queues_one_job_and_keeps_the_transaction_alive(db):
    async with db.transaction():
        first = await enqueue(db, "tests.record", {"key": "a"}, dedupe_key="contact-1")
        second = await enqueue(db, "tests.record", {"key": "a"}, dedupe_key="contact-1")
    assert first is not None and second is None
    assert await db.fetchval("SELECT count(*) FROM pgqueuer") == 1


async def test_unknown_job_names_are_refused(db):
    with pytest.raises(ValueError, match="no job is registered"):
        await enqueue(db, "tests.nope", {})


async def worker_ready(db) -> None:
    """Until the worker's queue connection LISTENs (it runs nothing before)."""
    listening = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'reachimpact-worker'"
    assert await wait_for(db, listening, 1) == 1
    await asyncio.sleep(0.5)


# An idle worker polls only every heartbeat timeout / 2 (15 s by default): anything well under that was woken by
# a NOTIFY.
WOKEN_WITHIN = 5.0


async def test_the_worker_runs_committed_jobs_and_retries_with_backoff(db, database_url, effects):
    worker = start_worker(database_url)
    try:
        await worker_ready(db)
        started = time.monotonic()
        async with db.transaction():
            await enqueue(db, "tests.record", {"key": "plain"})
            await enqueue(db, "tests.flaky", {"key": "flaky", "succeed_on": 3})
        count = "SELECT count(*) FROM job_effects WHERE key = $1 AND outcome = 'done'"
        assert await wait_for(db, count, 1, "plain", within=WOKEN_WITHIN) == 1
        # Retries (after 0.1 s, then 0.2 s) are announced by WakingQueries, not found by a poll.
        assert await wait_for(db, count, 1, "flaky", within=WOKEN_WITHIN) == 1
        assert time.monotonic() - started < WOKEN_WITHIN
        attempts = await db.fetch("SELECT attempt, outcome FROM job_effects WHERE key = 'flaky' ORDER BY id")
        assert [tuple(r) for r in attempts] == [(1, "failed"), (2, "failed"), (3, "done")]
        assert await wait_for(db, "SELECT count(*) FROM pgqueuer", 0) == 0  # done jobs leave the queue
    finally:
        assert stop(worker) == 0, worker.stderr.read().decode() if worker.stderr else ""


async def test_a_job_out_of_attempts_is_listed_as_failed_and_can_be_retried(db, database_url, effects):
    worker = start_worker(database_url)
    try:
        async with db.transaction():
            job_id = await enqueue(db, "tests.flaky", {"key": "doomed", "succeed_on": 99})
        status = "SELECT status::text FROM pgqueuer WHERE id = $1"
        assert await wait_for(db, status, "failed", job_id) == "failed"
        assert await db.fetchval("SELECT count(*) FROM job_effects WHERE key = 'doomed'") == 3  # max_attempts

        listed = await asyncio.to_thread(jobs_cli, database_url, "list", "--failed")
        assert listed.returncode == 0, listed.stderr
        assert f"{job_id}\tfailed\ttests.flaky\tattempts=" in listed.stdout
        assert "attempt 3 failed on purpose" in listed.stdout

        retried = await asyncio.to_thread(jobs_cli, database_url, "retry", str(job_id))
        assert retried.returncode == 0, retried.stderr
        count = "SELECT count(*) FROM job_effects WHERE key = 'doomed'"
        # Three more attempts after the retry, the first woken by the CLI's notice.
        assert await wait_for(db, count, 6, within=WOKEN_WITHIN) == 6
        assert await wait_for(db, status, "failed", job_id) == "failed"
    finally:
        stop(worker)


async def test_retrying_a_job_that_has_not_failed_is_an_error(db, database_url):
    async with db.transaction():
        job_id = await enqueue(db, "tests.record", {"key": "queued"})
    result = await asyncio.to_thread(jobs_cli, database_url, "retry", str(job_id))
    assert result.returncode == 1
    assert f"no failed job has id {job_id}" in result.stderr


async def test_sigterm_lets_the_running_job_finish(db, database_url, effects):
    worker = start_worker(database_url, "--grace", "10")
    try:
        async with db.transaction():
            await enqueue(db, "tests.slow", {"key": "slow", "seconds": 1.5})
        started = "SELECT count(*) FROM job_effects WHERE key = 'slow' AND outcome = 'started'"
        assert await wait_for(db, started, 1) == 1
        worker.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(worker.wait, 30) == 0
        outcomes = await db.fetch("SELECT outcome FROM job_effects WHERE key = 'slow' ORDER BY id")
        assert [r["outcome"] for r in outcomes] == ["started", "done"]
        assert await db.fetchval("SELECT count(*) FROM pgqueuer") == 0
    finally:
        stop(worker)


async def test_past_the_grace_period_the_job_goes_back_to_the_queue(db, database_url, effects):
    worker = start_worker(database_url, "--grace", "0.5")
    try:
        async with db.transaction():
            job_id = await enqueue(db, "tests.slow", {"key": "long", "seconds": 30})
        started = "SELECT count(*) FROM job_effects WHERE key = 'long' AND outcome = 'started'"
        assert await wait_for(db, started, 1) == 1
        worker.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(worker.wait, 30) == 3
        assert await db.fetchval("SELECT status::text FROM pgqueuer WHERE id = $1", job_id) == "queued"
    finally:
        stop(worker)


async def test_a_job_whose_worker_is_killed_runs_again(db, database_url, effects):
    first = start_worker(database_url, "--heartbeat-timeout", "2")
    second = None
    try:
        async with db.transaction():
            await enqueue(db, "tests.slow", {"key": "killed", "seconds": 1})
        started = "SELECT count(*) FROM job_effects WHERE key = 'killed' AND outcome = 'started'"
        assert await wait_for(db, started, 1) == 1
        first.kill()
        first.wait(timeout=10)
        second = start_worker(database_url, "--heartbeat-timeout", "2")
        done = "SELECT count(*) FROM job_effects WHERE key = 'killed' AND outcome = 'done'"
        assert await wait_for(db, done, 1, within=30) == 1
        assert await db.fetchval(started) == 2  # it ran again from the start
    finally:
        stop(first)
        if second:
            stop(second)


async def test_a_job_that_runs_twice_has_one_effect(db, database_url, effects):
    worker = start_worker(database_url)
    try:
        for _ in range(2):  # the same job, delivered twice (as after a worker was killed mid-run)
            async with db.transaction():
                await enqueue(db, "tests.record", {"key": "twice"})
        runs = "SELECT count(*) FROM job_effects WHERE key = 'twice'"
        assert await wait_for(db, runs, 2) == 2
        assert await db.fetchval("SELECT count(*) FROM job_results WHERE key = 'twice'") == 1
    finally:
        stop(worker)
