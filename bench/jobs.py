"""Jobs: enqueue -> start latency (worker woken by LISTEN) and no-op throughput of one worker process.

    .venv/bin/python bench/jobs.py [--probes 200] [--jobs 20000] [--traffic]

Works in a fresh database it drops afterwards, on the server of DATABASE_URL (a maintenance database URL) if set,
otherwise on the embedded server. With --traffic, `reachimpact serve` answers wrk on GET /ready (one query per
request) at the same time. Both processes log as production does (JSON lines at INFO, access log on), to files.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import asyncpg

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import bench.jobs_noop  # noqa: E402,F401  (registers bench.noop)
from bench.harness import BIN, free_port, fresh_database, production_logging, start_server, wrk  # noqa: E402
from service.db import migrations  # noqa: E402
from service.db.pool import connect  # noqa: E402
from service.jobs import enqueue  # noqa: E402
from service.jobs.registry import load_jobs  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def latency(dsn: str, probes: int) -> list[float]:
    conn = await connect(dsn)
    try:
        # Start timing once the worker runs jobs: under traffic it can take seconds to start, and a probe queued
        # before it listens measures its start-up, not the wake-up.
        async with conn.transaction():
            await enqueue(conn, "bench.noop", {"sent": time.time()})
        while not await conn.fetchval("SELECT count(*) FROM bench_starts"):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        await conn.execute("TRUNCATE bench_starts")
        for _ in range(probes):
            async with conn.transaction():
                sent = time.time()
                await enqueue(conn, "bench.noop", {"sent": sent})
            await asyncio.sleep(0.02)  # an idle queue between probes
        deadline = time.monotonic() + 30
        while await conn.fetchval("SELECT count(*) FROM bench_starts") < probes and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        rows = await conn.fetch("SELECT sent, started FROM bench_starts")
        return [(started - sent) * 1000 for sent, started in sorted(rows)[10:]]  # the first ten warm up
    finally:
        await conn.close()


async def throughput(dsn: str, jobs: int) -> float:
    conn = await connect(dsn)
    try:
        async with conn.transaction():
            for start in range(0, jobs, 1000):
                await conn.execute(
                    "INSERT INTO pgqueuer (priority, entrypoint, payload, status) "
                    "SELECT 0, 'bench.noop', '{}'::bytea, 'queued' FROM generate_series(1, $1)",
                    min(1000, jobs - start),
                )
        started = time.monotonic()
        while await conn.fetchval("SELECT count(*) FROM pgqueuer") > 0:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        return jobs / (time.monotonic() - started)
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--probes", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=20000)
    parser.add_argument("--traffic", action="store_true")
    args = parser.parse_args()
    load_jobs()
    with fresh_database(os.environ.get("DATABASE_URL", ""), "ri_bench_jobs") as dsn:
        measure(args, dsn)


def measure(args: argparse.Namespace, dsn: str) -> None:
    env = production_logging({**os.environ, "DATABASE_URL": dsn, "JWT_SECRET": "x" * 40, "PYTHONPATH": str(REPO)})
    logs = Path(tempfile.mkdtemp(prefix="ri-jobs-"))
    print(f"logs (LOG_FORMAT={env['LOG_FORMAT']}, LOG_LEVEL={env['LOG_LEVEL']}): {logs}")
    processes: list[subprocess.Popen] = []
    try:
        migrations.upgrade(dsn)
        asyncio.run(_admin(dsn, "CREATE TABLE bench_starts (sent float8, started float8)"))
        traffic: dict[str, float] = {}
        if args.traffic:
            port = free_port()
            with open(logs / "serve.log", "wb") as log:
                cmd = [str(BIN / "reachimpact"), "serve", "--port", str(port), "--no-migrate"]
                processes.append(start_server(cmd, port, env, log=log))
            thread = threading.Thread(target=lambda: traffic.update(wrk(f"http://127.0.0.1:{port}/ready", 25)))
            thread.start()
        with open(logs / "worker.log", "wb") as log:
            worker = subprocess.Popen(
                [str(BIN / "reachimpact"), "worker", "--import", "bench.jobs_noop", "--concurrency", "100"],
                env=env,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        processes.append(worker)
        lat = asyncio.run(latency(dsn, args.probes))
        rate = asyncio.run(throughput(dsn, args.jobs))
        if args.traffic:
            thread.join()
        p50, p99 = statistics.median(lat), percentile(lat, 0.99)
        print(f"enqueue->start over {len(lat)} probes: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {max(lat):.1f} ms")
        print(f"no-op throughput, one worker: {rate:.0f} jobs/s ({args.jobs} jobs)")
        if traffic:
            print(f"service meanwhile (GET /ready): {traffic}")
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=40)


async def _admin(dsn: str, statement: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


if __name__ == "__main__":
    main()
