"""Firestore documents read live through google-cloud-firestore.

- **Discovery**: the root collections (``client.collections()``), then for every document of every
  collection *including documents that do not exist but have subcollections*
  (``list_documents`` asks ListDocuments with ``show_missing``) its subcollections
  (``doc.collections()``), at any depth.
- **Named collections** (``collections=``): no discovery; a ``*`` segment stands for every document
  of the collection before it (ListDocuments, or a RunQuery walk where ListDocuments is missing).
- **Paging**: by document name only: ``order_by("__name__")``, ``limit(page_size)`` and a
  ``start_after`` cursor; never offsets. A server that ignores the cursor or the order (the npm
  @firestore-emulator/server) is read as one unlimited, unordered stream instead, skipping what was
  already written by count; the last written name must sit at that position, else
  ``CursorNotAdvancing`` stops the read rather than duplicate or drop documents.
- **One read time**: every call carries the same ``read_time``, so the snapshot is consistent.
- **Partitions**: where the server answers PartitionQuery, each collection id is read as a
  collection group split into partitions, in parallel. Where it answers UNIMPLEMENTED, each
  collection path is read on its own, sequentially by name.
- **Retries**: DEADLINE_EXCEEDED, UNAVAILABLE and RESOURCE_EXHAUSTED are retried with exponential
  backoff and jitter; a failed page is asked again from the same cursor, so nothing repeats.
"""

from __future__ import annotations

import copyreg
import datetime as dt
import random
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

import msgspec
import structlog
from google.api_core import exceptions as gexc
from google.api_core.datetime_helpers import DatetimeWithNanoseconds
from google.cloud import firestore
from google.cloud.firestore_v1.query import Query

from etl.snapshot import Document
from etl.values import encode_fields, format_timestamp, timestamp_from_datetime

T = TypeVar("T")


def _copy_with_nanoseconds(value: DatetimeWithNanoseconds) -> tuple[Any, tuple[Any, ...]]:
    return DatetimeWithNanoseconds.from_timestamp_pb, (value.timestamp_pb(),)


# DocumentSnapshot deep-copies its data, and a copied DatetimeWithNanoseconds keeps only microseconds
# (api-core pickles it as a plain datetime). Teach copy/pickle to keep the nanoseconds.
copyreg.pickle(DatetimeWithNanoseconds, _copy_with_nanoseconds)
RETRYABLE = (gexc.DeadlineExceeded, gexc.ServiceUnavailable, gexc.ResourceExhausted)
log = structlog.get_logger()


class CursorNotAdvancing(RuntimeError):
    """The server gave a page that does not start after the cursor: paging would loop or duplicate."""


class ServerLacksMethod(RuntimeError):
    """The server does not implement a call the live path needs (the message says what to use instead)."""


def not_implemented(exc: Exception) -> bool:
    """UNIMPLEMENTED, or UNKNOWN saying "not implemented" (how the npm @firestore-emulator/server answers)."""
    return isinstance(exc, gexc.MethodNotImplemented) or (
        isinstance(exc, gexc.Unknown) and "not implemented" in str(exc).lower()
    )


class RetryPolicy(msgspec.Struct, frozen=True):
    attempts: int = 8
    initial_delay: float = 0.5
    max_delay: float = 30.0
    multiplier: float = 2.0


def _pauses(policy: RetryPolicy) -> Iterator[float]:
    """The waits between attempts: exponential, capped, with jitter."""
    delay = policy.initial_delay
    for _ in range(policy.attempts - 1):
        yield delay * random.uniform(0.5, 1.0)
        delay = min(delay * policy.multiplier, policy.max_delay)


def _wait_or_raise(pauses: Iterator[float], exc: Exception, what: str) -> None:
    pause = next(pauses, None)
    if pause is None:
        raise exc
    log.warning("firestore.retry", what=what, error=type(exc).__name__, pause=round(pause, 3))
    time.sleep(pause)


def with_retry(call: Callable[[], T], policy: RetryPolicy, what: str) -> T:
    """Run ``call``; on a retryable error wait and run it again, up to ``policy.attempts`` times."""
    pauses = _pauses(policy)
    while True:
        try:
            return call()
        except RETRYABLE as exc:
            _wait_or_raise(pauses, exc, what)


def name_key(path: str) -> tuple[str, ...]:
    """Firestore orders document names segment by segment."""
    return tuple(path.split("/"))


def to_document(snapshot: Any) -> Document:
    """A client DocumentSnapshot as a snapshot Document."""
    return Document(
        path=snapshot.reference.path,
        fields=encode_fields(snapshot.to_dict() or {}, snapshot.reference.path),
        create_time=_time(snapshot.create_time),
        update_time=_time(snapshot.update_time),
    )


def _time(value: Any) -> str | None:
    """Snapshot times are datetimes from get(), but raw protobuf Timestamps from queries."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return timestamp_from_datetime(value)
    return format_timestamp(value.seconds, value.nanos)


class Partition(msgspec.Struct, frozen=True):
    """Documents of a collection group with ``start <= name < end`` (None: unbounded)."""

    collection_id: str
    start: str | None = None
    end: str | None = None


class LiveFirestore:
    """Reads one Firestore database at one ``read_time``."""

    def __init__(
        self,
        client: firestore.Client,
        *,
        read_time: dt.datetime,
        page_size: int = 500,
        partition_count: int = 8,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.client = client
        self.read_time = read_time
        self.page_size = page_size
        self.partition_count = partition_count
        self.retry = retry or RetryPolicy()

    # -- discovery -----------------------------------------------------------------------------

    def root_collections(self) -> list[str]:
        try:
            return with_retry(
                lambda: sorted(c.id for c in self.client.collections(retry=None, read_time=self.read_time)),
                self.retry,
                "ListCollectionIds /",
            )
        except gexc.GoogleAPICallError as exc:
            if not_implemented(exc):
                raise ServerLacksMethod(
                    "this Firestore server does not implement ListCollectionIds (the npm "
                    "@firestore-emulator/server does not), so --firestore-live cannot find the collections: "
                    "name them with --collections (e.g. --collections users,users/*/orders), or export the "
                    "data to a file and pass --firestore-export instead"
                ) from None
            raise

    def document_names(self, collection_path: str) -> Iterator[str]:
        """Every document name of a collection, including missing parents that have subcollections.

        After a retryable error the listing starts again, so a name may come twice.
        """
        pauses = _pauses(self.retry)
        while True:
            try:
                refs = self.client.collection(collection_path).list_documents(
                    page_size=self.page_size, retry=None, read_time=self.read_time
                )
                for ref in refs:
                    yield ref.path
                return
            except RETRYABLE as exc:
                _wait_or_raise(pauses, exc, f"ListDocuments {collection_path}")
            except gexc.GoogleAPICallError as exc:
                if not not_implemented(exc):
                    raise
                # No ListDocuments: the existing documents only (a missing parent must be named in full).
                log.info("firestore.no_list_documents", collection=collection_path, fallback="RunQuery")
                yield from (doc.path for doc, _ in self.read_collection_resumable(collection_path))
                return

    def expand(self, patterns: Iterable[str]) -> list[str]:
        """Collection paths named by ``patterns``; a ``*`` segment is every document of its collection."""
        found: set[str] = set()
        for pattern in patterns:
            segments = pattern.strip("/").split("/")
            if len(segments) % 2 == 0 or any(not s or (s == "*" and i % 2 == 0) for i, s in enumerate(segments)):
                raise ValueError(
                    f"--collections: {pattern!r} is not a collection path (collection/doc/collection..., "
                    "'*' only in document positions)"
                )
            prefixes = [segments[0]]
            for i in range(1, len(segments), 2):
                documents = (
                    [p for prefix in prefixes for p in self.document_names(prefix)]
                    if segments[i] == "*"
                    else [f"{prefix}/{segments[i]}" for prefix in prefixes]
                )
                prefixes = [f"{doc}/{segments[i + 1]}" for doc in documents]
            found.update(prefixes)
        log.info("firestore.named", collections=len(found))
        return sorted(found)

    def subcollections(self, document_path: str) -> list[str]:
        return with_retry(
            lambda: sorted(
                f"{document_path}/{c.id}"
                for c in self.client.document(document_path).collections(retry=None, read_time=self.read_time)
            ),
            self.retry,
            f"ListCollectionIds {document_path}",
        )

    def discover(self, workers: int = 8) -> list[str]:
        """Every collection path at any depth, sorted."""
        found: set[str] = set()
        pending = self.root_collections()
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="discover") as pool:
            while pending:
                collection = pending.pop()
                if collection in found:
                    continue
                found.add(collection)
                for chunk in chunks(self.document_names(collection), 256):
                    for children in pool.map(self.subcollections, set(chunk)):
                        pending.extend(children)
        log.info("firestore.discovered", collections=len(found))
        return sorted(found)

    # -- partitions ----------------------------------------------------------------------------

    def partitions(self, collection_id: str) -> list[Partition] | None:
        """Split points for a collection group; None when the server has no PartitionQuery."""
        group = self.client.collection_group(collection_id)
        try:
            parts = with_retry(
                lambda: list(group.get_partitions(self.partition_count, retry=None, read_time=self.read_time)),
                self.retry,
                f"PartitionQuery {collection_id}",
            )
        except gexc.GoogleAPICallError as exc:
            if not_implemented(exc):
                return None
            raise
        return [
            Partition(
                collection_id,
                part.start_at.path if part.start_at is not None else None,
                part.end_at.path if part.end_at is not None else None,
            )
            for part in parts
        ]

    # -- reading -------------------------------------------------------------------------------

    def read_collection(self, collection_path: str) -> Iterator[Document]:
        """One collection's documents (in name order where the server keeps it)."""
        return (doc for doc, _ in self.read_collection_resumable(collection_path))

    def read_collection_resumable(self, collection_path: str, cursor: Any = None) -> Iterator[tuple[Document, Any]]:
        """One collection's documents after ``cursor``, each with the cursor that resumes after it.

        Cursors: ``{"after": name, "count": n}`` while name-ordered paging works, ``{"unordered": n,
        "last": name}`` once the server has shown it ignores the cursor or the order.
        """
        if isinstance(cursor, str):  # a checkpoint of an earlier version: the name alone, no count
            cursor = {"after": cursor, "count": None}
        cursor = cursor or {}
        if "unordered" in cursor:
            yield from self._unordered(collection_path, cursor["unordered"], cursor["last"])
            return
        count: int | None = cursor.get("count", 0)
        pages = self._pages(
            self.client.collection(collection_path).order_by("__name__"), cursor.get("after"), None, collection_path
        )
        last = cursor.get("after")
        try:
            for doc in pages:
                count = None if count is None else count + 1
                last = doc.path
                yield doc, {"after": doc.path, "count": count}
        except CursorNotAdvancing:
            if count is None:
                raise
            log.info("firestore.unordered", collection=collection_path, fallback="one unordered stream")
            yield from self._unordered(collection_path, count, last)

    def _unordered(self, collection_path: str, skip: int, last: str | None) -> Iterator[tuple[Document, Any]]:
        """The collection as one stream in the server's own order, skipping the ``skip`` already written.

        A retryable error restarts the stream and skips again; the ``skip``-th name must be ``last``.
        """
        pauses = _pauses(self.retry)
        while True:
            try:
                stream = self.client.collection(collection_path).stream(retry=None, read_time=self.read_time)
                position = 0
                for position, snapshot in enumerate(stream, 1):
                    if position < skip:
                        continue
                    if position == skip:
                        if snapshot.reference.path != last:
                            raise CursorNotAdvancing(
                                f"{collection_path}: the server's order changed between reads (expected "
                                f"{last!r} at position {skip}, got {snapshot.reference.path!r}); extract into a "
                                "new directory"
                            )
                        continue
                    skip, last = position, snapshot.reference.path
                    yield to_document(snapshot), {"unordered": position, "last": last}
                if position < skip:
                    raise CursorNotAdvancing(f"{collection_path}: fewer documents than were already read")
                return
            except RETRYABLE as exc:
                _wait_or_raise(pauses, exc, f"RunQuery {collection_path}")

    def read_partition(self, partition: Partition, *, after: str | None = None) -> Iterator[Document]:
        """One partition of a collection group in name order, starting after ``after``."""
        query = self.client.collection_group(partition.collection_id).order_by("__name__")
        if partition.end is not None:
            query = query.end_before({"__name__": self.client.document(partition.end)})
        return self._pages(query, after, partition.start, f"group {partition.collection_id}")

    def _pages(self, base: Query, after: str | None, start_at: str | None, what: str) -> Iterator[Document]:
        cursor = after
        while True:
            query = base.limit(self.page_size)
            if cursor is not None:
                query = query.start_after({"__name__": self.client.document(cursor)})
            elif start_at is not None:
                query = query.start_at({"__name__": self.client.document(start_at)})
            page = with_retry(partial(self._fetch, query), self.retry, f"RunQuery {what}")
            _check_order(page, cursor, what)
            for snapshot in page:
                yield to_document(snapshot)
            if len(page) < self.page_size:
                return
            cursor = page[-1].reference.path

    def _fetch(self, query: Query) -> list[Any]:
        return list(query.stream(retry=None, read_time=self.read_time))


def _check_order(page: list[Any], cursor: str | None, what: str) -> None:
    previous = cursor
    for snapshot in page:
        path = snapshot.reference.path
        if previous is not None and name_key(path) <= name_key(previous):
            raise CursorNotAdvancing(
                f"{what}: the server returned {path!r} after cursor {previous!r}; the cursor does not advance "
                "(the server ignores start_after, or orders names differently). Stopping rather than "
                "duplicating or looping."
            )
        previous = path


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Lists of ``size`` items (the last may be shorter), pulled lazily."""
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
