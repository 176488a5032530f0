"""Analytics DTOs: what the dashboard and analytics pages read (camelCase)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import msgspec

from service.web.schemas import CamelStruct


class NamedCount(CamelStruct, kw_only=True):
    name: str
    count: int


class Overview(CamelStruct, kw_only=True):
    calls_made: int
    answered: int
    appointment_set: int
    callback: int
    voicemail: int
    no_answer: int
    failed: int
    talk_time_seconds: int
    # Over answered calls; 0 when none was answered.
    average_duration_seconds: float
    # Appointments per call made, in percent (as the SPA's analytics page computes it).
    conversion_rate: float
    contacts_added: int
    sms_sent: int
    sms_received: int
    ai_credits_spent: int
    # Imported analytics_events whose names mean none of the figures above: per name, most frequent first.
    other_events: list[NamedCount]
    # The last real-time event these figures include: apply analytics.counters events after it (docs/analytics.md).
    as_of_event_id: int


class AdminOverview(Overview, kw_only=True):
    active_users: int
    credits_spent: int


class Bucket(CamelStruct, kw_only=True):
    # The bucket's first instant, written in the caller's time zone (with its offset).
    start: str
    calls_made: int
    answered: int
    appointment_set: int
    callback: int
    voicemail: int
    no_answer: int
    failed: int
    conversion_rate: float


class Series(CamelStruct, kw_only=True):
    interval: str
    tz: str
    buckets: list[Bucket]


class Funnel(CamelStruct, kw_only=True):
    to_call: int
    dialed: int
    answered: int
    appointment_set: int


class HourOfDay(CamelStruct, kw_only=True):
    hour: int
    calls_made: int
    answered: int
    appointment_set: int
    answer_rate: float


class CampaignAnalytics(CamelStruct, kw_only=True):
    campaign_id: str
    period_start: datetime
    period_end: datetime
    funnel: Funnel
    outcomes: dict[str, int]
    by_hour: list[HourOfDay]
    # Up to three hours of day with the best answer rate among those with calls.
    best_hours: list[int]


def encode_activity(rows: Sequence[Mapping[str, Any]]) -> bytes:
    """Feed entries as the live analytics.activity events carry them: id, kind, occurredAt, then the data
    (callId, contactId, campaignId, status, outcome, durationSeconds; campaignId, name, status; count)."""
    return msgspec.json.encode(
        [{"id": row["id"], "kind": row["kind"], "occurredAt": row["created_at"], **row["data"]} for row in rows]
    )
