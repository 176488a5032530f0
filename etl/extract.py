"""``extract``: read Firebase (live or from export files) into a snapshot directory, resumably.

Run it again on the same directory after a crash and it continues from the last checkpoint; run it
on a finished snapshot and it does nothing.
"""

from __future__ import annotations

import datetime as dt
import itertools
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import firebase_admin
import msgspec
import structlog

from etl.snapshot import AuthUser, Document, DocumentBlock, Manifest, Snapshot, SnapshotWriter
from etl.sources import firebase_client
from etl.sources.auth_admin import AdminCursor, iter_admin_users
from etl.sources.auth_export import read_auth_export
from etl.sources.firestore_files import backfire_blocks, encode_backfire_block, is_backfire, read_firestore_export
from etl.sources.firestore_live import CursorNotAdvancing, LiveFirestore, Partition, RetryPolicy, ServerLacksMethod
from etl.values import parse_timestamp, timestamp_from_datetime
from etl.workers import start_worker

Progress = Callable[[str, int], None]
PROGRESS_EVERY = 1000  # records of a file source between two progress calls (drawing a bar is not free)
log = structlog.get_logger()

_PLAN = "firestorePlan"


class ExtractError(Exception):
    """Bad arguments, or a snapshot that cannot be continued with them."""


class ExtractOptions(msgspec.Struct, frozen=True, kw_only=True):
    """Tuning knobs; the defaults suit a production project."""

    auth_page_size: int = 1000
    page_size: int = 500
    workers: int = 8
    partition_count: int = 16
    checkpoint_every: int = 10_000  # each checkpoint fsyncs; a restart re-reads at most this many
    # Worker processes encoding an NDJSON export (in blocks of lines; the nested JSON format is one stream).
    processes: int = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    block_bytes: int = 1 << 20
    retry: RetryPolicy = RetryPolicy()


class ExtractSummary(msgspec.Struct, kw_only=True, rename="camel"):
    directory: str
    complete: bool
    resumed: bool
    read_time: str | None
    auth_users: int
    users_without_hash: int
    hash_redacted: int
    documents: int
    collections: dict[str, int]
    warnings: list[str]


def extract(
    out_dir: Path,
    *,
    auth_export: Path | None = None,
    auth_admin: bool = False,
    firestore_export: Path | None = None,
    firestore_live: bool = False,
    project_id: str | None = None,
    collections: Iterable[str] = (),
    progress: Progress | None = None,
    options: ExtractOptions | None = None,
) -> ExtractSummary:
    """Read the chosen sources into ``out_dir`` (see etl/README-snapshot.md for the format).

    At most one Auth source (``auth_export`` file or ``auth_admin``) and one Firestore source
    (``firestore_export`` file or ``firestore_live``). Live sources reach Firebase through
    ``etl.sources.firebase_client`` (so the emulator variables are honoured). ``progress(phase,
    count)`` is called with the running count, phase ``"auth"`` or ``"firestore"``: after every record of
    a live source, every ``PROGRESS_EVERY`` records of a file and at its end. ``collections``
    (live only) names the collection paths to read instead of discovering them (``*`` for every
    document id), for servers without ListCollectionIds.
    """
    options = options or ExtractOptions()
    collections = [c for item in collections for c in item.split(",") if c.strip()]
    if collections and not firestore_live:
        raise ExtractError("--collections names what --firestore-live reads; it needs --firestore-live")
    sources = _sources(auth_export, auth_admin, firestore_export, firestore_live, project_id)
    warnings: list[str] = []
    report = progress or (lambda _phase, _count: None)
    with SnapshotWriter(
        Path(out_dir), sources=sources, project_id=project_id, checkpoint_every=options.checkpoint_every
    ) as writer:
        if writer.complete:
            warnings.append(f"{out_dir} is already a complete snapshot; nothing was read")
            return _summary(writer.manifest, Path(out_dir), resumed=True, warnings=warnings)
        if auth_export is not None:
            users = read_auth_export(auth_export, on_warning=warnings.append)
            _write_counted(writer, "auth", users, writer.write_auth_user, report)
        if auth_admin:
            _extract_auth_admin(writer, project_id, options, report)
        if firestore_export is not None:
            if options.processes > 1 and is_backfire(firestore_export):
                _write_blocks(writer, "firestore", firestore_export, options, report)
            else:
                docs = read_firestore_export(firestore_export, on_warning=warnings.append)
                _write_counted(writer, "firestore", docs, writer.write_document, report)
        if firestore_live:
            try:
                _extract_firestore_live(writer, project_id, collections, options, report)
            except (ServerLacksMethod, CursorNotAdvancing, ValueError) as exc:
                raise ExtractError(f"{exc} (what was read so far is kept; rerun continues)") from None
        manifest = writer.finish()
    return _summary(manifest, Path(out_dir), resumed=writer.resumed, warnings=warnings)


def _sources(
    auth_export: Path | None, auth_admin: bool, firestore_export: Path | None, firestore_live: bool, project: str | None
) -> list[str]:
    if auth_export is not None and auth_admin:
        raise ExtractError("choose one Auth source: an auth:export file or the Admin SDK, not both")
    if firestore_export is not None and firestore_live:
        raise ExtractError("choose one Firestore source: an export file or the live database, not both")
    for path in (auth_export, firestore_export):
        if path is not None and not Path(path).is_file():
            raise ExtractError(f"{path}: no such file")
    sources = [
        f"auth-export:{Path(auth_export).resolve()}" if auth_export is not None else None,
        f"auth-admin:{project or ''}" if auth_admin else None,
        f"firestore-export:{Path(firestore_export).resolve()}" if firestore_export is not None else None,
        f"firestore-live:{project or ''}" if firestore_live else None,
    ]
    chosen = [s for s in sources if s]
    if not chosen:
        raise ExtractError("nothing to extract: give an Auth source, a Firestore source, or both")
    return chosen


def _write_counted(
    writer: SnapshotWriter, unit: str, records: Iterable[Any], write: Callable[..., None], report: Progress
) -> None:
    """A file source: the cursor is the number of records consumed, so a resume skips that many."""
    if writer.unit_done(unit):
        return
    done = count = writer.unit_cursor(unit) or 0
    for count, record in enumerate(itertools.islice(records, done, None), done + 1):
        write(record, unit=unit, cursor=count)
        if count % PROGRESS_EVERY == 0:
            report(unit, count)
    report(unit, count)
    writer.finish_unit(unit)


def _write_blocks(writer: SnapshotWriter, unit: str, path: Path, options: ExtractOptions, report: Progress) -> None:
    """An NDJSON export encoded by worker processes, block by block, written in file order.

    The snapshot and the cursor (records consumed) are the ones ``_write_counted`` gives. At most two blocks
    per process are in flight, so memory does not grow with the file.
    """
    if writer.unit_done(unit):
        return
    done = writer.unit_cursor(unit) or 0
    # fork: a worker starts in milliseconds with the modules already imported (spawn would import them again).
    fork = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(options.processes, mp_context=fork, initializer=start_worker) as pool:
        pending: deque[Future[DocumentBlock]] = deque()
        try:
            for number, data in backfire_blocks(path, skip=done, size=options.block_bytes):
                pending.append(pool.submit(encode_backfire_block, path, number, data))
                if len(pending) >= 2 * options.processes:
                    done = _write_block(writer, unit, pending.popleft().result(), done, report)
            while pending:
                done = _write_block(writer, unit, pending.popleft().result(), done, report)
        except BrokenProcessPool as exc:
            raise ExtractError(f"a worker process died ({exc}); rerun to continue from the last checkpoint") from None
        except BaseException:
            pool.shutdown(cancel_futures=True)
            raise
    writer.finish_unit(unit)


def _write_block(writer: SnapshotWriter, unit: str, block: DocumentBlock, done: int, report: Progress) -> int:
    done += block.records
    writer.write_block(block, unit=unit, cursor=done)
    report(unit, done)
    return done


def _extract_auth_admin(
    writer: SnapshotWriter, project_id: str | None, options: ExtractOptions, report: Progress
) -> None:
    if writer.unit_done("auth"):
        return
    saved = writer.unit_cursor("auth")
    start = msgspec.convert(saved, AdminCursor) if saved else None
    app = firebase_client.admin_app(project_id)
    try:
        for count, (user, cursor) in enumerate(
            iter_admin_users(app, page_size=options.auth_page_size, start=start), writer.manifest.auth_users + 1
        ):
            writer.write_auth_user(user, unit="auth", cursor=msgspec.to_builtins(cursor))
            report("auth", count)
    finally:
        firebase_admin.delete_app(app)
    writer.finish_unit("auth")


def _extract_firestore_live(
    writer: SnapshotWriter, project_id: str | None, collections: list[str], options: ExtractOptions, report: Progress
) -> None:
    if writer.read_time is None:
        # Whole seconds: a read time Firestore accepts for an hour (and, with PITR, for 7 days).
        writer.read_time = timestamp_from_datetime(dt.datetime.now(dt.UTC).replace(microsecond=0))
    seconds, _ = parse_timestamp(writer.read_time)
    reader = LiveFirestore(
        firebase_client.firestore_client(project_id),
        read_time=dt.datetime.fromtimestamp(seconds, dt.UTC),
        page_size=options.page_size,
        partition_count=options.partition_count,
        retry=options.retry,
    )
    plan = writer.get_state(_PLAN)
    if plan is None:
        plan = (
            _sequential(reader.expand(collections)) if collections else _plan(reader, reader.discover(options.workers))
        )
        writer.set_state(_PLAN, plan)
    counter = itertools.count(sum(writer.manifest.collections.values()) + 1)

    def run(unit: dict[str, Any]) -> None:
        name = unit["name"]
        if writer.unit_done(name):
            return
        after = writer.unit_cursor(name)
        if unit["kind"] == "collection":
            docs: Iterator[tuple[Document, Any]] = reader.read_collection_resumable(unit["path"], after)
        else:
            partition = msgspec.convert(unit["partition"], Partition)
            docs = ((doc, doc.path) for doc in reader.read_partition(partition, after=after))
        for doc, cursor in docs:
            writer.write_document(doc, unit=name, cursor=cursor)
            report("firestore", next(counter))
        writer.finish_unit(name)

    with ThreadPoolExecutor(max_workers=options.workers, thread_name_prefix="extract") as pool:
        list(pool.map(run, plan["units"]))


def _plan(reader: LiveFirestore, collection_paths: list[str]) -> dict[str, Any]:
    """Work units: partitions of each collection group, or each collection path when unpartitionable."""
    ids = sorted({path.rsplit("/", 1)[-1] for path in collection_paths})
    partitioned: list[dict[str, Any]] = []
    for collection_id in ids:
        parts = reader.partitions(collection_id)
        if parts is None:
            log.info("firestore.no_partition_query", fallback="sequential per collection")
            return _sequential(collection_paths)
        partitioned += [
            {"name": f"partition:{collection_id}:{i}", "kind": "partition", "partition": msgspec.to_builtins(part)}
            for i, part in enumerate(parts)
        ]
    return {"mode": "partitioned", "collections": collection_paths, "units": partitioned}


def _sequential(collection_paths: list[str]) -> dict[str, Any]:
    """One work unit per collection path, each read on its own."""
    units = [{"name": f"collection:{p}", "kind": "collection", "path": p} for p in collection_paths]
    return {"mode": "sequential", "collections": collection_paths, "units": units}


def _summary(manifest: Manifest, directory: Path, *, resumed: bool, warnings: list[str]) -> ExtractSummary:
    users = _auth_stats(Snapshot(directory).iter_auth_users()) if manifest.complete else (0, 0)
    without_hash, redacted = users
    if redacted:
        warnings.append(
            f"{redacted} user(s) came back with REDACTED password hashes: the service account lacks the "
            "'Firebase Authentication Admin' role. Grant it and extract again into a new directory, or "
            "these users must reset their passwords."
        )
    return ExtractSummary(
        directory=str(directory),
        complete=manifest.complete,
        resumed=resumed,
        read_time=manifest.read_time,
        auth_users=manifest.auth_users,
        users_without_hash=without_hash,
        hash_redacted=redacted,
        documents=sum(manifest.collections.values()),
        collections=dict(sorted(manifest.collections.items())),
        warnings=warnings,
    )


def _auth_stats(users: Iterable[AuthUser]) -> tuple[int, int]:
    without_hash = redacted = 0
    for user in users:
        without_hash += user.password_hash is None
        redacted += user.hash_redacted
    return without_hash, redacted
