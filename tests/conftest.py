"""Every test runs on a real PostgreSQL, in a database of its own.

The server is TEST_DATABASE_URL when set, otherwise the embedded one under .data/test (the same mechanism the
service uses when DATABASE_URL is unset). Each xdist worker migrates one template database once; each test
gets a fresh copy of it (CREATE DATABASE ... TEMPLATE), so tests can commit, run in any order and in parallel.
The copy a test gets was made while the previous test ran, and its database is dropped while the next one runs.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service.app import create_app
from service.config import Settings
from service.db import migrations
from service.db.embedded import normalize_url, start_embedded_server
from service.db.pool import connect

pytest_plugins = ["tests.fakes.twilio.fixtures"]

REPO = Path(__file__).resolve().parents[1]
TEST_JWT_SECRET = "test-secret-" + "x" * 40


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def _admin(server_url: str, *statements: str) -> None:
    connection = await asyncpg.connect(server_url)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


async def create_database(server_url: str, prefix: str, template: str | None = None) -> str:
    """A new database named ``<prefix>_<random>``, empty or a copy of ``template``; its name."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    await _admin(server_url, f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))
    return name


async def drop_database(server_url: str, name: str) -> None:
    await _admin(server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def server_url() -> str:
    """A URL of the test server's maintenance database."""
    configured = os.environ.get("TEST_DATABASE_URL")
    if configured:
        return normalize_url(configured)
    return start_embedded_server(REPO / ".data" / "test", "postgres")


@pytest.fixture(scope="session")
def template_database(server_url: str, worker_id: str) -> Iterator[str]:
    name = asyncio.run(create_database(server_url, f"ri_tmpl_{worker_id}"))
    migrations.upgrade(with_database(server_url, name))
    yield name
    asyncio.run(drop_database(server_url, name))


class DatabaseSupply:
    """Copies of the template made and dropped on a thread of their own, one copy ahead of the tests.

    A copy costs 0.2-0.3 s of the server's time; made while the previous test runs, it is ready when the next test
    asks, and the drop of a finished test's copy does not hold up the next test either.
    """

    def __init__(self, server_url: str, template: str) -> None:
        self.server_url = server_url
        self.template = template
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="test-databases")
        self._next: Future[str] | None = None

    def _create(self) -> str:
        return asyncio.run(create_database(self.server_url, "ri_test", self.template))

    def _drop(self, name: str) -> None:
        asyncio.run(drop_database(self.server_url, name))

    async def take(self) -> str:
        ready = self._next or self._thread.submit(self._create)
        self._next = self._thread.submit(self._create)
        return await asyncio.wrap_future(ready)

    def give_back(self, name: str) -> None:
        self._thread.submit(self._drop, name)

    def close(self) -> None:
        if self._next is not None:
            self.give_back(self._next.result())
        self._thread.shutdown(wait=True)


@pytest.fixture(scope="session")
def database_supply(server_url: str, template_database: str) -> Iterator[DatabaseSupply]:
    supply = DatabaseSupply(server_url, template_database)
    yield supply
    supply.close()


@asynccontextmanager
async def fresh_database(server_url: str, template_database: str, prefix: str) -> AsyncIterator[str]:
    """A new database cloned from the migrated template, dropped afterwards."""
    name = await create_database(server_url, prefix, template_database)
    try:
        yield with_database(server_url, name)
    finally:
        await drop_database(server_url, name)


@pytest.fixture
def empty_database(server_url: str) -> Iterator[str]:
    """A new database without any schema, for the migrations themselves."""
    name = asyncio.run(create_database(server_url, "ri_empty"))
    yield with_database(server_url, name)
    asyncio.run(drop_database(server_url, name))


@pytest.fixture
async def database_url(server_url: str, database_supply: DatabaseSupply) -> AsyncIterator[str]:
    name = await database_supply.take()
    yield with_database(server_url, name)
    database_supply.give_back(name)


@pytest.fixture
async def second_database_url(server_url: str, template_database: str) -> AsyncIterator[str]:
    """Another fresh migrated database, for comparing two runs side by side."""
    async with fresh_database(server_url, template_database, "ri_second") as url:
        yield url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        env="test",
        database_url=database_url,
        data_dir=tmp_path,
        jwt_secret=TEST_JWT_SECRET,
        public_base_url="http://testserver.local",
        log_level="WARNING",
        # Tests hash for real, with argon2id at its minimum cost (a setting production refuses).
        argon2_memory_kib=8,
        argon2_time_cost=1,
    ).finalized()


@pytest.fixture
def app(settings: Settings) -> Litestar:
    return create_app(settings)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient]:
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as test_client:
        yield test_client


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection to the test's database, for arranging rows and asserting on them."""
    connection = await connect(database_url)
    yield connection
    await connection.close()


class TestUser:
    """A user made straight in the database, with a session and a valid access token."""

    def __init__(self, id: uuid.UUID, email: str, role: str, token: str) -> None:
        self.id = id
        self.email = email
        self.role = role
        self.token = token
        self.headers = {"Authorization": f"Bearer {token}"}


@pytest.fixture
def make_user(db: asyncpg.Connection, app: Litestar):
    """make_user(role="customer", email=None) -> TestUser, for tests of features behind authentication."""

    async def make(role: str = "customer", email: str | None = None, credits: int = 0) -> TestUser:
        from service.db.models.base import uuid7

        user_id, session_id = uuid7(), uuid7()
        email = email or f"user-{user_id.hex[-8:]}@example.com"
        await db.execute(
            "INSERT INTO users (id, email, full_name, role, credits) VALUES ($1, $2, $3, $4, $5)",
            user_id,
            email,
            "Test User",
            role,
            credits,
        )
        await db.execute(
            "INSERT INTO auth_sessions (id, user_id, expires_at) VALUES ($1, $2, now() + interval '1 day')",
            session_id,
            user_id,
        )
        token, _ = app.state.tokens.issue(user_id=user_id, session_id=session_id, role=role)
        return TestUser(user_id, email, role, token)

    return make
