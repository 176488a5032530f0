"""Load: snapshot -> Postgres, through staging tables and upserts, resumable (see ``loader``)."""

from etl.load.counts import StageCounts
from etl.load.loader import LoadError, LoadResult, checkpoint, load
from etl.load.session import binary_jsonb
from etl.load.stages import AUTH_STAGE, STAGES, snapshot_id

__all__ = [
    "AUTH_STAGE",
    "STAGES",
    "LoadError",
    "LoadResult",
    "StageCounts",
    "binary_jsonb",
    "checkpoint",
    "load",
    "snapshot_id",
]
