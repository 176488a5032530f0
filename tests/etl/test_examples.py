"""The README's one command imports examples/, and afterwards its users log in with their Firebase passwords."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
from pathlib import Path

import asyncpg
from litestar.testing import AsyncTestClient

from service.app import create_app
from service.config import Settings

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
COMMAND = ["etl", "run", "--auth-export", "users.json", "--hash-config", "hash.json", "--firestore-export", "data.json"]


async def test_the_example_imports_and_its_users_log_in(
    db: asyncpg.Connection, database_url: str, settings: Settings, tmp_path: Path
) -> None:
    env = os.environ | {"DATABASE_URL": database_url, "REACHIMPACT_DATA_DIR": str(tmp_path), "LOG_LEVEL": "WARNING"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from service.cli import main; main()",
        *COMMAND,
        "--report",
        str(tmp_path / "r.json"),
        cwd=EXAMPLES,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, (out + err).decode()
    assert b"Every source document is accounted for" in out
    assert await db.fetchval("SELECT count(*) FROM contacts") == 5
    assert await db.fetchval("SELECT password_reset_required FROM users WHERE email = 'sam@example.com'")

    app = create_app(dataclasses.replace(settings, firebase_hash_config=str(EXAMPLES / "hash.json")))
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        for email, password in [("maria@example.com", "correct-horse-1"), ("li.wei@example.com", "reach-impact-3")]:
            response = await client.post("/api/auth/login", json={"email": email, "password": password})
            assert response.status_code == 200, response.text
        wrong = await client.post("/api/auth/login", json={"email": "james@example.com", "password": "nope"})
        assert wrong.status_code in (400, 401)
        james = await client.post(
            "/api/auth/login", json={"email": "james@example.com", "password": "battery-staple-2"}
        )
        assert james.status_code == 200, james.text
    # The first login re-hashed the password with argon2id and dropped the Firebase hash.
    assert await db.fetchval("SELECT legacy_password_hash FROM users WHERE email = 'maria@example.com'") is None
