"""Dialer DTOs (camelCase on the wire)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, UnsetType

from service.web.schemas import CamelStruct

ClockTime = Annotated[str, msgspec.Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
Weekday = Annotated[int, msgspec.Meta(ge=1, le=7)]


class RulesIn(CamelStruct, kw_only=True, forbid_unknown_fields=True):
    """Only the fields sent change."""

    calling_start: ClockTime | UnsetType = UNSET
    calling_end: ClockTime | UnsetType = UNSET
    calling_days: Annotated[list[Weekday], msgspec.Meta(min_length=1, max_length=7)] | UnsetType = UNSET
    retry_delay_minutes: Annotated[int, msgspec.Meta(ge=0, le=7 * 24 * 60)] | UnsetType = UNSET
    max_attempts: Annotated[int, msgspec.Meta(ge=1, le=10)] | UnsetType = UNSET
    machine_detection: bool | UnsetType = UNSET
    voicemail_action: Literal["hangup", "message"] | UnsetType = UNSET
    voicemail_message: Annotated[str, msgspec.Meta(max_length=2000)] | UnsetType | None = UNSET


class RulesOut(CamelStruct):
    calling_start: str
    calling_end: str
    calling_days: list[int]
    retry_delay_minutes: int
    max_attempts: int
    machine_detection: bool
    voicemail_action: str
    voicemail_message: str | None


class PacingIn(CamelStruct, kw_only=True, forbid_unknown_fields=True):
    calls_per_second: Annotated[float, msgspec.Meta(gt=0, le=1000)]
    max_concurrent: Annotated[int, msgspec.Meta(ge=1, le=10_000)]


class PacingOut(CamelStruct):
    account_sid: str
    calls_per_second: float
    max_concurrent: int
    backoff_until: datetime | None


class DoNotCallIn(CamelStruct, kw_only=True, forbid_unknown_fields=True):
    phone_number: Annotated[str, msgspec.Meta(max_length=40)]
    reason: Annotated[str, msgspec.Meta(max_length=500)] | None = None


class DoNotCallOut(CamelStruct):
    phone_number: str
    reason: str | None
    created_at: datetime


class DoNotCallImport(CamelStruct):
    added: int
    duplicates: int
    rejected: list[dict[str, object]]
    rejected_count: int
