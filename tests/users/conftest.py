"""Users tests log in for real: the same fast hashing as the auth tests."""

from __future__ import annotations

import pytest

from service.config import Settings
from tests.auth.conftest import with_fast_hashing


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return with_fast_hashing(settings)
