"""Campaign DTOs (camelCase on the wire)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, UnsetType

from service.web.schemas import CamelStruct

CampaignStatus = Literal["draft", "active", "paused", "completed"]
Text = Annotated[str, msgspec.Meta(max_length=2000)]
ContactIds = Annotated[list[uuid.UUID], msgspec.Meta(max_length=10_000)]


class CampaignIn(CamelStruct, kw_only=True, forbid_unknown_fields=True):
    """POST and PUT bodies. PUT changes only the fields sent; `contactIds`, when sent, replaces the membership.
    `selectedContactIds` (what the SPA's CampaignForm sends) is the same as `contactIds`. Unknown fields are a 400.

    Dates are ISO 8601 strings, with or without a time ("2025-03-01" is midnight UTC).
    """

    name: Annotated[str, msgspec.Meta(max_length=200)] | UnsetType = UNSET
    description: Annotated[str, msgspec.Meta(max_length=20000)] | UnsetType | None = UNSET
    industry: Text | UnsetType | None = UNSET
    type: Text | UnsetType | None = UNSET
    script: Annotated[str, msgspec.Meta(max_length=100000)] | UnsetType | None = UNSET
    language: Text | UnsetType | None = UNSET
    translation_enabled: bool | UnsetType | None = UNSET
    response_language: Text | UnsetType | None = UNSET
    start_date: str | UnsetType | None = UNSET
    end_date: str | UnsetType | None = UNSET
    status: CampaignStatus | UnsetType = UNSET
    contact_ids: ContactIds | UnsetType = UNSET
    selected_contact_ids: ContactIds | UnsetType = UNSET

    def __post_init__(self) -> None:
        if self.contact_ids is UNSET:
            self.contact_ids = self.selected_contact_ids


class MembershipIn(CamelStruct):
    contact_ids: ContactIds


class ProgressOut(CamelStruct):
    """A running campaign's progress, counted by the dialer from its targets and calls on every read."""

    to_call: int  # contacts waiting for an attempt (now, later in their hours, or a retry)
    in_progress: int  # attempts claimed or ringing
    dialed: int  # calls placed
    answered: int  # completed calls a person answered
    appointments_set: int
    voicemail: int
    no_answer: int  # no answer or busy
    opted_out: int  # skipped: the contact opted out
    do_not_call: int  # skipped: on the account's do-not-call list
    unreachable: int  # skipped: no phone, or zones (of a number spanning several) whose hours never overlap
    no_time_zone: int  # skipped: neither the contact nor its number gives a time zone to judge the hours by
    failed: int
    conversion_rate: float  # appointments per call placed, in percent
    calls_per_second: float  # achieved over the last minute
    estimated_finish_at: datetime | None  # at that pace; null when idle or done


class CampaignOut(CamelStruct, omit_defaults=True):
    """Stats are computed from the calls and the membership on every read."""

    id: uuid.UUID
    user_id: uuid.UUID
    name: str
    description: str | None
    industry: str | None
    type: str | None
    script: str | None
    language: str | None
    translation_enabled: bool
    response_language: str | None
    start_date: datetime | None
    end_date: datetime | None
    status: str
    created_at: datetime
    updated_at: datetime
    contact_ids: list[uuid.UUID]
    total_contacts: int
    calls_made: int
    appointments_set: int
    # Appointments per call made, in percent (12.5 means 12.5 %); 0 before the first call.
    conversion_rate: float
    # The dialer's counters and estimate: GET /api/campaigns/:id only (left out elsewhere).
    progress: ProgressOut | None = None
