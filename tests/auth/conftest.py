"""Auth tests hash for real, with argon2id lowered to its minimum (a setting production refuses)."""

from __future__ import annotations

import dataclasses

import pytest

from service.config import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, argon2_memory_kib=8, argon2_time_cost=1)
