"""Auth tests hash for real, with argon2id lowered to its minimum (a setting production refuses)."""

from __future__ import annotations

import dataclasses

import pytest

from service.config import Settings


def with_fast_hashing(settings: Settings) -> Settings:
    return dataclasses.replace(settings, argon2_memory_kib=8, argon2_time_cost=1)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return with_fast_hashing(settings)
