"""Analytics: the period and time zone a request asks for, checked, then the numbers from the repository."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg

from service.analytics import repository
from service.analytics.schemas import (
    AdminOverview,
    Bucket,
    CampaignAnalytics,
    Funnel,
    HourOfDay,
    Overview,
    Series,
)
from service.errors import FieldError, NotFound, ValidationFailed
from service.web.decoding import parse_instant

DEFAULT_DAYS = 30
MAX_DAYS = 400  # a year and some, by day or week
MAX_HOURLY_DAYS = 31  # hourly buckets: a month at most (744 points)
INTERVALS = ("hour", "day", "week")


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime  # exclusive
    tz: str


def zone(raw: str | None) -> str:
    name = raw or "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed(f"Unknown time zone '{name}'", [FieldError("tz", "is not an IANA time zone")]) from None
    return name


def period(raw_from: str | None, raw_to: str | None, raw_tz: str | None, max_days: int = MAX_DAYS) -> Period:
    """[from, to): `to` defaults to the next local midnight, `from` to DEFAULT_DAYS before `to`."""
    tz = zone(raw_tz)
    local = ZoneInfo(tz)
    if raw_to:
        end = parse_instant(raw_to, "to", local)
    else:
        end = datetime.combine(datetime.now(local).date() + timedelta(days=1), time(), local)
    try:
        start = parse_instant(raw_from, "from", local) if raw_from else end - timedelta(days=DEFAULT_DAYS)
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


def overview_of(row: asyncpg.Record) -> dict[str, int | float]:
    return {
        "calls_made": row["calls_made"],
        "answered": row["answered"],
        "appointment_set": row["appointment_set"],
        "callback": row["callback"],
        "voicemail": row["voicemail"],
        "no_answer": row["no_answer"],
        "failed": row["failed"],
        "talk_time_seconds": row["talk_time"],
        "average_duration_seconds": round(row["answered_time"] / row["answered"], 1) if row["answered"] else 0.0,
        "conversion_rate": percent(row["appointment_set"], row["calls_made"]),
        "contacts_added": row["contacts_added"],
        "sms_sent": row["sms_sent"],
        "sms_received": row["sms_received"],
        "ai_credits_spent": row["ai_credits_spent"],
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
        row = await repository.overview(self.pool, owner, when.start, when.end, campaign)
        return Overview(**overview_of(row))  # type: ignore[arg-type]

    async def admin_overview(self, when: Period) -> AdminOverview:
        row = await repository.overview(self.pool, None, when.start, when.end, None)
        return AdminOverview(
            **overview_of(row),  # type: ignore[arg-type]
            active_users=row["active_users"],
            credits_spent=row["credits_spent"],
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
                    appointment_set=row["appointment_set"],
                    callback=row["callback"],
                    voicemail=row["voicemail"],
                    no_answer=row["no_answer"],
                    failed=row["failed"],
                    conversion_rate=percent(row["appointment_set"], row["calls_made"]),
                )
                for row in rows
            ],
        )

    async def campaign(self, owner: uuid.UUID, campaign_id: uuid.UUID, when: Period) -> CampaignAnalytics:
        if not await repository.campaign_is_owned(self.pool, campaign_id, owner):
            raise NotFound("Campaign")
        funnel, outcomes, by_hour = await repository.campaign(self.pool, campaign_id, when.start, when.end, when.tz)
        hours = [
            HourOfDay(
                hour=row["hour"],
                calls_made=row["calls_made"],
                answered=row["answered"],
                appointment_set=row["appointment_set"],
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
            outcomes={row["outcome"]: row["calls"] for row in outcomes},
            by_hour=hours,
            best_hours=[h.hour for h in best],
        )
