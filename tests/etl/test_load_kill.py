"""SIGKILL a real ``reachimpact etl load`` process at several points; the rerun must end exactly where an
uninterrupted load ends: same rows, same ids, same dead letters, nothing lost, nothing doubled."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import asyncpg

from etl.load.loader import load
from etl.snapshot import AuthUser, Document, Snapshot
from service.db.pool import connect
from tests.analytics.helpers import rolled_and_recounted
from tests.etl.helpers import doc, dump, write_snapshot

LOAD = "from service.cli import main; main()"
INDEXES = "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1"


def many_documents() -> tuple[list[Document], list[AuthUser]]:
    rng = random.Random(5)
    users = [
        AuthUser(uid=f"u{i}", email=f"user{i}@example.com", password_hash="aGFzaA==", salt="c2FsdA==")
        for i in range(30)
    ]
    docs = [doc(f"users/u{i}", fullName=f"User {i}", credits=i) for i in range(30)]
    docs += [
        doc(f"contacts/c{i}", userId=f"u{rng.randrange(32)}", firstName=f"C{i}", phone=f"+1415555{i:04d}")
        for i in range(300)
    ]
    docs += [
        doc(f"campaigns/k{i}", userId=f"u{i}", name=f"K{i}", contactIds=[f"c{j}" for j in range(i, 310, 37)])
        for i in range(10)
    ]
    docs += [
        doc(f"calls/x{i}", userId=f"u{i % 30}", contactId=f"c{i}", twilioSid=f"CA{i % 140}", duration=i)
        for i in range(150)
    ]
    docs += [
        doc(f"channels/ch{i}/messages/m{j}", text=f"{i}:{j}", senderId=f"u{j}") for i in range(5) for j in range(10)
    ]
    docs += [doc(f"channels/ch{i}", name=f"Room {i}", members=[f"u{i}", f"u{i + 1}"]) for i in range(4)]
    docs += [doc(f"audit/a{i}", action="login", n=i) for i in range(20)]
    return docs, users


async def _checkpoints(db: asyncpg.Connection) -> dict[str, tuple[int, bool]]:
    rows = await db.fetch("SELECT collection, position, (counts->>'done')::bool AS done FROM etl_checkpoints")
    return {r["collection"]: (r["position"], bool(r["done"])) for r in rows}


async def _no_session_left(db: asyncpg.Connection) -> None:
    others = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    for _ in range(500):
        if await db.fetchval(others) == 0:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("a session of the killed load is still connected")


async def _run_and_kill(
    snapshot: Path,
    database_url: str,
    tmp_path: Path,
    db: asyncpg.Connection,
    kill_when: Callable[[dict[str, tuple[int, bool]]], bool] | None,
    delay: float = 0.0,
) -> int:
    env = os.environ | {
        "DATABASE_URL": database_url,
        "REACHIMPACT_DATA_DIR": str(tmp_path / "data"),
        "MIGRATE_ON_START": "false",
        "LOG_LEVEL": "WARNING",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        LOAD,
        "etl",
        "load",
        str(snapshot),
        "--batch-size",
        "5",
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        if kill_when is None:
            _, err = await asyncio.wait_for(process.communicate(), 60)
            assert process.returncode == 0, err.decode()
            return 0
        await asyncio.sleep(delay)
        while True:
            if process.returncode is not None or kill_when(await _checkpoints(db)):
                break
            await asyncio.sleep(0.003)
        with contextlib.suppress(ProcessLookupError):  # it may have just finished
            process.send_signal(signal.SIGKILL)
        returncode = await asyncio.wait_for(process.wait(), 10)
        await _no_session_left(db)  # its staging worker died with it: nothing writes behind the rerun
        return returncode
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


async def test_sigkill_then_rerun_equals_an_uninterrupted_load(
    db: asyncpg.Connection,
    database_url: str,
    second_database_url: str,
    tmp_path: Path,
) -> None:
    docs, users = many_documents()
    snapshot = write_snapshot(tmp_path / "snap", docs, users)

    kills: list[tuple[Callable[[dict[str, tuple[int, bool]]], bool] | None, float]] = [
        (lambda c: c.get("users", (0, False))[0] >= 10, 0.0),  # inside the users (and Auth join) stage
        (lambda c: c.get("contacts", (0, False))[0] >= 120, 0.0),  # in the middle of a large stage
        (lambda c: c.get("campaigns", (0, False))[1], 0.0),  # right after a stage finished (membership rows)
        (lambda c: False, 0.35),  # at an arbitrary moment, wherever it is
    ]
    landed = 0
    for kill_when, delay in kills:
        returncode = await _run_and_kill(snapshot, database_url, tmp_path, db, kill_when, delay)
        landed += returncode == -signal.SIGKILL
    assert landed >= 3, "the load finished before it could be killed: make the data set larger"
    await _run_and_kill(snapshot, database_url, tmp_path, db, None)

    reference = await connect(second_database_url)
    try:
        await load(reference, Snapshot(snapshot), batch_size=50)
        expected = await dump(reference)
        expected_indexes = await reference.fetch(INDEXES)
        expected_figures = await rolled_and_recounted(reference)
    finally:
        await reference.close()
    actual = await dump(db)
    # Analytics deferred to a stage's end by a killed run are counted by the rerun's, exactly once.
    assert await rolled_and_recounted(db) == expected_figures
    assert expected_figures[0] == expected_figures[1]
    assert await db.fetch(INDEXES) == expected_indexes  # the secondary indexes a kill left dropped: built again
    for table, rows in expected.items():
        assert actual[table] == rows, table
    assert len(actual["contacts"]) == 300 and len(actual["etl_dead_letters"]) == 10
