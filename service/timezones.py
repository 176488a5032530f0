"""IANA time zone names from clients, checked against the installed database before any lookup.

`ZoneInfo(name)` opens a file named after its argument: a name too long for the file system raises OSError, a
path-like one ValueError, an unknown one ZoneInfoNotFoundError. Checking membership in the known names first
makes every such input one answer, and keeps client text away from the file system.
"""

from __future__ import annotations

import zoneinfo
from functools import cache


@cache
def known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def is_known_zone(name: str) -> bool:
    return name in known_zones()
