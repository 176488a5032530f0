"""What loading one stage did; kept in ``etl_checkpoints.counts`` so a resumed load reports the whole."""

from __future__ import annotations

import msgspec


class StageCounts(msgspec.Struct, kw_only=True):
    source: int = 0  # documents read from the snapshot
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0  # dead letters
    orphans: int = 0  # links whose target is missing (null key, raw value kept in extra)
    truncated_timestamps: int = 0  # times that lost digits below the microsecond
    raw_kept: dict[str, int] = {}  # column -> values that did not fit it (kept in extra as <field>Raw)
    collections: dict[str, int] = {}  # unknown collections (pattern -> documents), for the generic stage
    # The auth_users stage only: Auth users in the snapshot, and how many of them a profile took (those
    # are counted under users; this stage's rows are the Auth users without a profile).
    auth_read: int = 0
    auth_joined: int = 0
    done: bool = False

    def add(self, other: StageCounts) -> None:
        for name in ("source", "inserted", "updated", "unchanged", "rejected", "orphans", "truncated_timestamps"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for mine, theirs in ((self.raw_kept, other.raw_kept), (self.collections, other.collections)):
            for key, value in theirs.items():
                mine[key] = mine.get(key, 0) + value
