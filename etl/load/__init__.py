"""Load: snapshot -> Postgres, through staging tables and upserts, resumable (see ``loader``)."""

from etl.load.counts import StageCounts
from etl.load.loader import AUTH_STAGE, LoadResult, load, snapshot_id, stage_names

__all__ = ["AUTH_STAGE", "LoadResult", "StageCounts", "load", "snapshot_id", "stage_names"]
