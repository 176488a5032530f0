"""Calling hours: when a contact may be called, in the contact's own time zone.

A window is a local start and end time (end exclusive) on some ISO weekdays. A contact whose zone is not known
exactly (a mobile or toll-free number that spans zones) may be called only when the window is open in every zone
its number may be in.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

import phonenumbers
from phonenumbers import timezone as phone_timezones

# Beyond this, a window that never opens (no common hours across the zones) gives up instead of looping.
HORIZON = timedelta(days=15)


@dataclass(frozen=True, slots=True)
class Window:
    start: time
    end: time
    days: frozenset[int]  # ISO weekdays, 1 = Monday


@lru_cache(maxsize=1024)
def zone(name: str) -> zoneinfo.ZoneInfo | None:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def contact_zones(timezone: str | None, phone: str) -> list[zoneinfo.ZoneInfo]:
    """The contact's zone when known; else every zone its number may be in; empty when nothing is known."""
    names: Iterable[str]
    if timezone:
        names = [timezone]
    else:
        try:
            names = phone_timezones.time_zones_for_number(phonenumbers.parse(phone))
        except phonenumbers.NumberParseException:
            names = []
    return [z for name in names if name != "Etc/Unknown" and (z := zone(name)) is not None]


def local_instant(day: date, clock: time, tz: zoneinfo.ZoneInfo) -> datetime:
    """The UTC instant of a wall-clock time; a time skipped by a DST change opens when the clocks resume."""
    naive = datetime.combine(day, clock)
    instant = naive.replace(tzinfo=tz).astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) == naive:
        return instant
    # In the gap (02:30 on the spring-forward night): the first minute whose wall time is at or past it.
    candidate = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    while candidate.astimezone(tz).replace(tzinfo=None) < naive:
        candidate += timedelta(minutes=1)
    return candidate


def opening_in_zone(moment: datetime, tz: zoneinfo.ZoneInfo, window: Window) -> datetime | None:
    """`moment` if the window is open then in `tz`, else when it next opens (None within a week: no days)."""
    today = moment.astimezone(tz).date()
    for offset in range(8):
        day = today + timedelta(days=offset)
        if day.isoweekday() not in window.days:
            continue
        start, end = local_instant(day, window.start, tz), local_instant(day, window.end, tz)
        if moment < start:
            return start
        if moment < end:
            return moment
    return None


def next_opening(moment: datetime, zones: Sequence[zoneinfo.ZoneInfo], window: Window) -> datetime | None:
    """The first instant at or after `moment` when the window is open in every zone; None if it never is."""
    if not zones:
        return None
    candidate = moment
    while candidate - moment <= HORIZON:
        openings = [opening_in_zone(candidate, tz, window) for tz in zones]
        if any(o is None for o in openings):
            return None
        latest = max(o for o in openings if o is not None)
        if latest == candidate:
            return candidate
        candidate = latest
    return None
