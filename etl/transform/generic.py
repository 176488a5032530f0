"""Documents of collections no spec maps: kept whole, typed, in ``firestore_documents``.

Nothing is dropped: ``export`` writes them back unchanged, and the report lists their collections.
"""

from __future__ import annotations

from dataclasses import dataclass

from etl.snapshot import Document, collection_pattern
from etl.transform.convert import Context
from etl.transform.engine import Ref, Rejected, Row, Spec, imported_id, rfc3339
from etl.values import InvalidValue


@dataclass(frozen=True)
class Generic:
    """Every document whose collection pattern none of ``claimed`` is."""

    claimed: frozenset[str]
    name: str = "other"
    table: str = "firestore_documents"
    root: str | None = None  # all root collections
    refs: tuple[Ref, ...] = ()
    members: None = None
    unique: tuple[str, ...] = ()
    uses_auth: bool = False
    columns: tuple[str, ...] = ("ord", "firebase_id", "id", "collection", "fields", "create_time", "update_time")

    def covers(self, pattern: str) -> bool:
        return pattern not in self.claimed

    def matches(self, doc: Document) -> bool:
        return self.matches_path(doc.path)

    def matches_path(self, path: str) -> bool:
        return collection_pattern(path) not in self.claimed

    def transform(self, doc: Document, position: int, ctx: Context, auth: object = None) -> Row | Rejected:
        try:
            created = rfc3339(doc.create_time)
            updated = rfc3339(doc.update_time)
        except InvalidValue as exc:
            return Rejected(f"corrupt document times: {exc}")
        values = (
            position,
            doc.path,
            imported_id(doc.path),
            doc.collection_path,
            doc.fields,
            created,
            updated,
        )
        return Row(values, [], 0, ())


def unclaimed(specs: tuple[Spec, ...]) -> Generic:
    return Generic(claimed=frozenset(spec.pattern for spec in specs))
