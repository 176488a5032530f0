from dataclasses import dataclass, replace

import pytest

from tests.fakes.openai import API_KEY, OpenAIFake


@pytest.fixture
def openai_fake():
    fake = OpenAIFake().start()
    yield fake
    fake.stop()


@pytest.fixture
def settings(settings, openai_fake):
    """The service pointed at the loopback OpenAI, with one quick retry."""
    return replace(
        settings,
        openai_api_key=API_KEY,
        openai_base_url=openai_fake.base_url,
        openai_max_retries=1,
        openai_timeout_seconds=5,
    )


@dataclass
class Ledger:
    balance: int
    deltas: list[tuple[int, str]]  # (delta, kind), oldest first
    reservations: list[tuple[int, str, str]]  # (amount, purpose, status)


@pytest.fixture
def ledger(db):
    async def read(user) -> Ledger:
        balance = await db.fetchval("SELECT credits FROM users WHERE id = $1", user.id)
        deltas = await db.fetch(
            "SELECT delta, kind FROM credit_ledger WHERE user_id = $1 ORDER BY created_at, id", user.id
        )
        held = await db.fetch(
            "SELECT amount, purpose, status FROM credit_reservations WHERE user_id = $1 ORDER BY created_at, id",
            user.id,
        )
        return Ledger(balance, [tuple(r) for r in deltas], [tuple(r) for r in held])

    return read
