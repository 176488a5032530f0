"""Two real service processes on one database, as in production behind the load balancer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import TEST_JWT_SECRET
from tests.test_serve import spawn_service, stop, wait_healthy

# Small enough for a test to reach, through both processes together.
SEND_LIMIT = 6


@pytest.fixture
def two_services(database_url) -> Iterator[tuple[str, str]]:
    env = {
        "DATABASE_URL": database_url,
        "JWT_SECRET": TEST_JWT_SECRET,
        "CHAT_MAX_MESSAGES_PER_WINDOW": str(SEND_LIMIT),
    }
    # Started side by side: each spends seconds importing before it listens.
    services = [spawn_service(env, "--no-migrate"), spawn_service(env, "--no-migrate")]
    try:
        (_, first_url), (_, second_url) = [wait_healthy(*service) for service in services]
        yield first_url, second_url
    finally:
        for process, _ in reversed(services):
            stop(process)
