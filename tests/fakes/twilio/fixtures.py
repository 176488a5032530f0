"""The loopback Twilio as a pytest fixture, for every test folder that places calls (a plugin of tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.fakes.twilio import TwilioFake


@pytest.fixture
async def twilio():
    fake = await TwilioFake().start()
    yield fake
    await fake.stop()
