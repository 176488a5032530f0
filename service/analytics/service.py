"""Analytics: the period and time zone a request asks for, checked, then the numbers from the repository."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from service.analytics import repository
from service.analytics.export import csv_stream
from service.analytics.schemas import (
    AdminOverview,
    Bucket,
    CampaignAnalytics,
    Funnel,
    HourOfDay,
    NamedCount,
    Overview,
    Series,
)
from service.errors import FieldError, NotFound, ValidationFailed
from service.timezones import is_known_zone
from service.web.decoding import parse_instant

DEFAULT_DAYS = 30
MAX_DAYS = 400  # a year and some, by day or week
MAX_HOURLY_DAYS = 31  # hourly buckets: a month at most (744 points)
INTERVALS = ("hour", "day", "week")
QUARTER_HOUR = 900  # seconds
EXPORT_BATCH = 2000  # rows per fetch from the server-side cursor, and per chunk written


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime  # exclusive
    tz: str


def zone(raw: str | None) -> str:
    name = raw or "UTC"
    if not is_known_zone(name):
        raise ValidationFailed(f"Unknown time zone '{name}'", [FieldError("tz", "is not an IANA time zone")])
    return name


def instant(raw: str, field: str, tz: ZoneInfo) -> datetime:
    """An ISO date (midnight in `tz`) or date-time (without an offset: in `tz`), on a quarter hour."""
    parsed = parse_instant(raw, field, tz)
    # The rollups count per UTC quarter hour; every zone in use today starts its hours on one (a date of the
    # 19th century in local mean time may not).
    if parsed.astimezone(UTC).timestamp() % QUARTER_HOUR:
        raise ValidationFailed(
            f"'{field}' must fall on a quarter hour",
            [FieldError(field, "is not on a quarter hour (:00, :15, :30, :45)")],
        )
    return parsed


def period(raw_from: str | None, raw_to: str | None, raw_tz: str | None, max_days: int = MAX_DAYS) -> Period:
    """[from, to): `to` defaults to the next local midnight, `from` to DEFAULT_DAYS before `to`."""
    tz = zone(raw_tz)
    local = ZoneInfo(tz)
    if raw_to:
        end = instant(raw_to, "to", local)
    else:
        end = datetime.combine(datetime.now(local).date() + timedelta(days=1), time(), local)
    try:
        start = instant(raw_from, "from", local) if raw_from else end - timedelta(days=DEFAULT_DAYS)
    except OverflowError:  # `to` within the first days of year 1
        raise ValidationFailed("'to' is too early", [FieldError("to", "is too early")]) from None
    if start >= end:
        raise ValidationFailed("'from' must be before 'to'", [FieldError("from", "is not before 'to'")])
    if end - start > timedelta(days=max_days):
        raise ValidationFailed(
            f"The period is longer than {max_days} days",
            [FieldError("to", f"is more than {max_days} days after 'from'")],
        )
    return Period(start, end, tz)


def percent(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else 0.0


def overview_of(row: asyncpg.Record, others: list[asyncpg.Record]) -> dict[str, Any]:
    return {
        "calls_made": row["calls_made"],
        "answered": row["answered"],
        "appointment_set": row["outcome_appointment_set"],
        "callback": row["outcome_callback"],
        "voicemail": row["outcome_voicemail"],
        "no_answer": row["no_answer"],
        "failed": row["failed"],
        "talk_time_seconds": row["talk_seconds"],
        "average_duration_seconds": round(row["answered_seconds"] / row["answered"], 1) if row["answered"] else 0.0,
        "conversion_rate": percent(row["outcome_appointment_set"], row["calls_made"]),
        "contacts_added": row["contacts_added"],
        "sms_sent": row["sms_sent"],
        "sms_received": row["sms_received"],
        "ai_credits_spent": row["ai_credits_spent"],
        "other_events": [NamedCount(name=o["name"], count=o["count"]) for o in others],
        "as_of_event_id": row["as_of_event_id"],
    }


class AnalyticsService:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def owned_campaign(self, owner: uuid.UUID | None, campaign: uuid.UUID | None) -> None:
        """Someone else's campaign is the same 404 as a missing one."""
        if campaign and owner and not await repository.campaign_is_owned(self.pool, campaign, owner):
            raise NotFound("Campaign")

    async def overview(self, owner: uuid.UUID, when: Period, campaign: uuid.UUID | None = None) -> Overview:
        await self.owned_campaign(owner, campaign)
        row, others = await repository.overview(self.pool, owner, when.start, when.end, campaign)
        return Overview(**overview_of(row, others))

    async def admin_overview(self, when: Period) -> AdminOverview:
        row, others = await repository.overview(self.pool, None, when.start, when.end, None)
        return AdminOverview(
            **overview_of(row, others), active_users=row["active_users"], credits_spent=row["credits_spent"]
        )

    async def series(
        self, owner: uuid.UUID | None, when: Period, interval: str, campaign: uuid.UUID | None = None
    ) -> Series:
        if interval not in INTERVALS:
            raise ValidationFailed(
                f"'interval' must be one of {', '.join(INTERVALS)}",
                [FieldError("interval", "is not hour, day or week")],
            )
        if interval == "hour" and when.end - when.start > timedelta(days=MAX_HOURLY_DAYS):
            raise ValidationFailed(
                f"Hourly series cover at most {MAX_HOURLY_DAYS} days",
                [FieldError("to", f"is more than {MAX_HOURLY_DAYS} days after 'from'")],
            )
        await self.owned_campaign(owner, campaign)
        rows = await repository.series(self.pool, owner, when.start, when.end, campaign, interval, when.tz)
        local = ZoneInfo(when.tz)
        return Series(
            interval=interval,
            tz=when.tz,
            buckets=[
                Bucket(
                    start=row["start"].astimezone(local).isoformat(),
                    calls_made=row["calls_made"],
                    answered=row["answered"],
                    appointment_set=row["outcome_appointment_set"],
                    callback=row["outcome_callback"],
                    voicemail=row["outcome_voicemail"],
                    no_answer=row["no_answer"],
                    failed=row["failed"],
                    conversion_rate=percent(row["outcome_appointment_set"], row["calls_made"]),
                )
                for row in rows
            ],
        )

    async def activity(
        self, owner: uuid.UUID, after: tuple[datetime, uuid.UUID] | None, kind: str | None, limit: int
    ) -> list[asyncpg.Record]:
        """`limit` + 1 rows, so the route knows whether a next page follows."""
        return await repository.activity(self.pool, owner, after, kind, limit + 1)

    async def export(self, owner: uuid.UUID, when: Period, campaign: uuid.UUID | None = None) -> AsyncIterator[bytes]:
        """Checked before the first byte (a bad request is still a 400/404); then streamed, EXPORT_BATCH rows
        in memory at a time whatever the period holds."""
        await self.owned_campaign(owner, campaign)
        batches = repository.export_batches(self.pool, owner, when.start, when.end, campaign, EXPORT_BATCH)
        return csv_stream(batches, when.tz)

    async def campaign(self, owner: uuid.UUID, campaign_id: uuid.UUID, when: Period) -> CampaignAnalytics:
        if not await repository.campaign_is_owned(self.pool, campaign_id, owner):
            raise NotFound("Campaign")
        funnel, by_hour = await repository.campaign(self.pool, owner, campaign_id, when.start, when.end, when.tz)
        hours = [
            HourOfDay(
                hour=row["hour"],
                calls_made=row["calls_made"],
                answered=row["answered"],
                appointment_set=row["outcome_appointment_set"],
                answer_rate=percent(row["answered"], row["calls_made"]),
            )
            for row in by_hour
        ]
        best = sorted(hours, key=lambda h: (-h.answer_rate, -h.appointment_set, h.hour))[:3]
        return CampaignAnalytics(
            campaign_id=str(campaign_id),
            period_start=when.start,
            period_end=when.end,
            funnel=Funnel(
                to_call=funnel["to_call"],
                dialed=funnel["dialed"],
                answered=funnel["answered"],
                appointment_set=funnel["appointment_set"],
            ),
            outcomes=outcome_mix(by_hour),
            by_hour=hours,
            best_hours=[h.hour for h in best],
        )


def outcome_mix(by_hour: list[asyncpg.Record]) -> dict[str, int]:
    """Calls per outcome ("none": no outcome yet), most frequent first, zeros left out."""
    mix = {o: sum(row[f"outcome_{o}"] for row in by_hour) for o in repository.OUTCOMES}
    mix["none"] = sum(row["calls_made"] for row in by_hour) - sum(mix.values())
    return {o: n for o, n in sorted(mix.items(), key=lambda item: (-item[1], item[0])) if n}
