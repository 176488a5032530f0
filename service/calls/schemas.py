"""Call and SMS DTOs: the JSON the SPA sends and reads (camelCase, the SPA's field names)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, UnsetType

from service.web.schemas import CamelStruct

MAX_SCRIPT = 4000  # Twilio's <Say> reads at most 4,096 characters
MAX_SMS = 1600  # Twilio's limit for one (concatenated) message

# The SPA once used numeric ids; anything that is not one of our UUIDs names no row (404).
Id = str | int
Phone = Annotated[str, msgspec.Meta(max_length=40)]


class CallIn(CamelStruct, kw_only=True):
    """POST /api/calls and /api/call. With `status` (a label such as "Completed") it logs a finished call, as
    the SPA's CallInterface does; without it, it places a call."""

    contact_id: Id
    campaign_id: Id | None = None
    phone_number: Phone | None = None
    script: Annotated[str, msgspec.Meta(max_length=MAX_SCRIPT)] | None = None
    language: Annotated[str, msgspec.Meta(max_length=20)] | None = None
    recording_enabled: bool = False
    status: Annotated[str, msgspec.Meta(max_length=40)] | UnsetType = UNSET
    duration: Annotated[int, msgspec.Meta(ge=0, le=86_400)] = 0
    notes: Annotated[str, msgspec.Meta(max_length=20_000)] | None = None


class SmsIn(CamelStruct, kw_only=True):
    phone_number: Phone
    message: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_SMS)]
    contact_id: Id | None = None


class CallOut(CamelStruct, kw_only=True):
    """A call as the /api/calls pages read it: `status` is the label they show, `twilioStatus` Twilio's own."""

    id: uuid.UUID
    sid: str | None
    contact_id: uuid.UUID | None
    campaign_id: uuid.UUID | None
    contact_name: str | None
    company_name: str | None
    phone_number: str | None
    status: str
    twilio_status: str
    outcome: str | None
    direction: str
    duration: int
    answered_by: str | None
    recording_url: str | None
    transcript: str | None
    translated_transcript: str | None
    language: str | None
    sentiment: Any
    follow_up_status: str | None
    notes: str | None
    started_at: datetime | None
    ended_at: datetime | None
    created_at: datetime


class CallStatusOut(CamelStruct, kw_only=True):
    """The older pages' CallStatus (client/src/lib/twilio.ts): `status` is Twilio's, as their poller expects."""

    id: uuid.UUID
    sid: str | None
    status: str
    duration: int
    direction: str
    from_: str = msgspec.field(name="from")
    to: str | None
    start_time: datetime | None
    end_time: datetime | None
    contact_id: uuid.UUID | None
    campaign_id: uuid.UUID | None


class EndOut(CamelStruct):
    success: bool
    sid: str
    status: str


class SmsOut(CamelStruct, kw_only=True):
    success: bool
    id: uuid.UUID
    sid: str
    status: str
    contact_id: uuid.UUID | None
    to: str
    body: str
    created_at: datetime
