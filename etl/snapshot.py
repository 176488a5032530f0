"""The snapshot directory: what an extract writes and what the load stage reads.

Layout (see ``etl/README-snapshot.md`` for the full contract)::

    manifest.json              format, times, sources, counts; ``complete`` only after a finished extract
    auth_users.ndjson          one AuthUser per line
    firestore/<root>.ndjson    one Document per line, every document whose path starts with <root>
    firestore/<root>.digests   per line of <root>.ndjson: its collection pattern, path and MD5 (what verify reads)
    .progress.json             resume state while an extract is unfinished (removed when it completes)

Writes are append-only. A checkpoint fsyncs every data file and then atomically replaces
``.progress.json`` with the files' lengths, each work unit's cursor and the counts. On resume every
file is cut back to its checkpointed length, which drops a partial trailing line and every line
written after the checkpoint; the units then restart from their checkpointed cursors. So a crash at
any moment leaves neither duplicates nor gaps.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import msgspec
import structlog

FORMAT = "reachimpact-snapshot/1"
MANIFEST = "manifest.json"
AUTH_USERS = "auth_users.ndjson"
FIRESTORE_DIR = "firestore"
DIGESTS = ".digests"
PROGRESS = ".progress.json"

_WRITE_BUFFER = 1 << 20
log = structlog.get_logger()


class SnapshotError(Exception):
    """A snapshot directory that cannot be read or continued (the message says why)."""


class AuthUser(msgspec.Struct, kw_only=True, rename="camel"):
    """One Firebase Auth user. Hashes are standard base64; times are epoch milliseconds."""

    uid: str
    email: str | None = None
    email_verified: bool = False
    disabled: bool = False
    display_name: str | None = None
    phone_number: str | None = None
    photo_url: str | None = None
    providers: list[str] = []
    created_at: int | None = None
    last_signed_in_at: int | None = None
    password_hash: str | None = None
    salt: str | None = None
    custom_claims: dict[str, Any] | None = None
    hash_redacted: bool = False

    @property
    def role_claim(self) -> str | None:
        """The custom claims that name a role: ``role`` (its text), else ``admin: true``. Others stay claims."""
        claims = self.custom_claims or {}
        role = claims.get("role")
        if isinstance(role, str):
            return role
        return "admin" if claims.get("admin") is True else None


class Document(msgspec.Struct, rename="camel"):
    """One Firestore document: its full path and its typed fields (see ``etl.values``)."""

    path: str
    fields: dict[str, Any]
    create_time: str | None = None
    update_time: str | None = None

    @property
    def id(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def collection_path(self) -> str:
        """``channels/c1/messages`` for ``channels/c1/messages/m1``."""
        return self.path.rsplit("/", 1)[0]

    @property
    def collection_id(self) -> str:
        """The last collection segment: ``messages`` for ``channels/c1/messages/m1``."""
        return self.path.split("/")[-2]

    @property
    def parent_path(self) -> str | None:
        """The parent document (``channels/c1``), or None for a document of a root collection."""
        parts = self.path.split("/")
        return "/".join(parts[:-2]) if len(parts) > 2 else None

    @property
    def root(self) -> str:
        """The root collection id: ``channels`` for ``channels/c1/messages/m1``."""
        return self.path.split("/", 1)[0]


class Manifest(msgspec.Struct, kw_only=True, rename="camel"):
    format: str = FORMAT
    created_at: str
    read_time: str | None = None
    project_id: str | None = None
    sources: list[str] = []
    complete: bool = False
    collections: dict[str, int] = {}
    auth_users: int = 0
    # Each data file's length as the extract finished it: a file of another length was changed since.
    files: dict[str, int] = {}


class _Unit(msgspec.Struct):
    cursor: Any = None
    done: bool = False


class _Progress(msgspec.Struct, rename="camel"):
    files: dict[str, int] = {}
    units: dict[str, _Unit] = {}
    state: dict[str, Any] = {}


def collection_pattern(document_path: str) -> str:
    """``channels/c1/messages/m1`` -> ``channels/*/messages``: the key of the manifest's counts."""
    parts = document_path.split("/")[:-1]
    parts[1::2] = ["*"] * (len(parts) // 2)
    return "/".join(parts)


def validate_document_path(path: str) -> None:
    parts = path.split("/")
    if len(parts) % 2 or "" in parts:
        raise SnapshotError(f"not a document path (collection/doc[/collection/doc...]): {path!r}")


def line_digest(line: bytes) -> str:
    """The MD5 (hex) of a snapshot line without its newline: what the load records and verify checks."""
    return hashlib.md5(line, usedforsecurity=False).hexdigest()


_COPY_SPECIAL = re.compile(r"[\\\t\n\r]")
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def digest_row(pattern: str, path: str, digest: str) -> bytes:
    """One line of a ``.digests`` file: PostgreSQL COPY text format, so verify can send the file as it is."""
    if _COPY_SPECIAL.search(path):  # rare; the pattern is made of the path's segments, so it needs no test
        pattern, path = pattern.translate(_COPY_ESCAPES), path.translate(_COPY_ESCAPES)
    return f"{pattern}\t{path}\t{digest}\n".encode()


def _utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _read_manifest(directory: Path) -> Manifest:
    try:
        manifest = msgspec.json.decode((directory / MANIFEST).read_bytes(), type=Manifest)
    except FileNotFoundError:
        raise SnapshotError(f"{directory} is not a snapshot: {MANIFEST} is missing") from None
    except msgspec.DecodeError as exc:
        raise SnapshotError(f"{directory / MANIFEST} is corrupt: {exc}") from None
    if manifest.format != FORMAT:
        raise SnapshotError(f"{directory} has format {manifest.format!r}; this version reads {FORMAT!r}")
    return manifest


def _encode_document(doc: Document) -> tuple[str, str, bytes, bytes]:
    """(its data files' path without the suffix, collection pattern, line, digests row) of a document."""
    validate_document_path(doc.path)
    pattern = collection_pattern(doc.path)
    line = msgspec.json.encode(doc)
    return f"{FIRESTORE_DIR}/{doc.root}", pattern, line, digest_row(pattern, doc.path, line_digest(line))


class DocumentBlock:
    """Documents encoded into snapshot lines, to be appended together (``SnapshotWriter.write_block``).

    Encoding is most of an extract's work; a block can be built in a worker process and sent back whole.
    """

    def __init__(self) -> None:
        self.records = 0
        self.counts: dict[str, int] = {}
        self._buffers: dict[str, tuple[bytearray, bytearray]] = {}  # per data file: lines, digests rows

    def add(self, doc: Document) -> None:
        rel, pattern, line, digests = _encode_document(doc)
        buffers = self._buffers.get(rel)
        if buffers is None:
            buffers = self._buffers[rel] = (bytearray(), bytearray())
        buffers[0].extend(line)
        buffers[0].extend(b"\n")
        buffers[1].extend(digests)
        self.counts[pattern] = self.counts.get(pattern, 0) + 1
        self.records += 1

    @property
    def files(self) -> dict[str, bytearray]:
        """What to append to which file."""
        out = {}
        for rel, (lines, digests) in self._buffers.items():
            out[rel + ".ndjson"], out[rel + DIGESTS] = lines, digests
        return out


class SnapshotWriter:
    """Writes a snapshot; continues an unfinished one in the same directory.

    Records are written per *work unit* (a name the caller picks, e.g. ``auth`` or
    ``collection:users``) with the unit's cursor after that record. ``unit_cursor`` gives the
    checkpointed cursor back after a crash. Thread-safe: parallel readers may share one writer.
    """

    def __init__(
        self,
        directory: Path,
        *,
        sources: list[str],
        project_id: str | None = None,
        checkpoint_every: int = 1000,
    ) -> None:
        self.directory = Path(directory)
        self._sources = sorted(sources)
        self._project_id = project_id
        self._checkpoint_every = checkpoint_every
        self._lock = threading.RLock()
        self._files: dict[str, Any] = {}
        self._written: set[str] = set()  # files written to since the last checkpoint
        self._progress = _Progress()
        self._since_checkpoint = 0
        self._without_digests: set[str] = set()
        self.manifest = Manifest(created_at=_utc_now(), project_id=project_id, sources=self._sources)
        self.resumed = False

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> SnapshotWriter:
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / FIRESTORE_DIR).mkdir(exist_ok=True)
        if (self.directory / MANIFEST).exists():
            self._resume(_read_manifest(self.directory))
        else:
            self._reset_data_files({})
            _write_atomic(self.directory / MANIFEST, msgspec.json.encode(self.manifest))
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        with self._lock:
            if exc_type is None and not self.manifest.complete:
                self.checkpoint()
            self._close_files()

    @property
    def complete(self) -> bool:
        return self.manifest.complete

    def _resume(self, manifest: Manifest) -> None:
        if manifest.sources != self._sources:
            raise SnapshotError(
                f"{self.directory} was started with sources {manifest.sources}; it cannot be continued "
                f"with {self._sources}. Use a new directory."
            )
        self.manifest = manifest
        self.resumed = True
        if manifest.complete:
            return
        progress_path = self.directory / PROGRESS
        if progress_path.exists():
            self._progress = msgspec.json.decode(progress_path.read_bytes(), type=_Progress)
        self._reset_data_files(self._progress.files)
        # Begun by a version that wrote no digests: those files would lack the lines written before.
        self._without_digests = {
            rel.removesuffix(".ndjson") + DIGESTS
            for rel in self._progress.files
            if rel.startswith(f"{FIRESTORE_DIR}/")
            and rel.endswith(".ndjson")
            and rel.removesuffix(".ndjson") + DIGESTS not in self._progress.files
        }
        # Counts as of the checkpoint, to match the files as they were cut back.
        self.manifest.collections = dict(self._progress.state.get("collections") or {})
        self.manifest.auth_users = int(self._progress.state.get("authUsers") or 0)
        log.info("snapshot.resume", directory=str(self.directory), units=len(self._progress.units))

    def _reset_data_files(self, lengths: dict[str, int]) -> None:
        """Cut every data file back to its checkpointed length; remove files born after it."""
        for path in [self.directory / AUTH_USERS, *(self.directory / FIRESTORE_DIR).iterdir()]:
            rel = path.relative_to(self.directory).as_posix()
            if rel in lengths:
                with open(path, "r+b") as f:
                    f.truncate(lengths[rel])
            elif path.exists():
                path.unlink()

    # -- state ---------------------------------------------------------------------------------

    @property
    def read_time(self) -> str | None:
        return self.manifest.read_time

    @read_time.setter
    def read_time(self, value: str | None) -> None:
        with self._lock:
            self.manifest.read_time = value
            _write_atomic(self.directory / MANIFEST, msgspec.json.encode(self.manifest))

    def get_state(self, key: str) -> Any:
        """Caller state saved with the checkpoints (e.g. a read plan), or None."""
        return self._progress.state.get(key)

    def set_state(self, key: str, value: Any) -> None:
        """Save caller state durably right away."""
        with self._lock:
            self._progress.state[key] = value
            self.checkpoint()

    def unit_cursor(self, unit: str) -> Any:
        unit_state = self._progress.units.get(unit)
        return unit_state.cursor if unit_state else None

    def unit_done(self, unit: str) -> bool:
        unit_state = self._progress.units.get(unit)
        return bool(unit_state and unit_state.done)

    def finish_unit(self, unit: str) -> None:
        with self._lock:
            self._progress.units.setdefault(unit, _Unit()).done = True
            self.checkpoint()

    # -- writes --------------------------------------------------------------------------------

    def write_document(self, doc: Document, *, unit: str, cursor: Any) -> None:
        rel, pattern, line, digests = _encode_document(doc)
        with self._lock:
            self._append(rel + ".ndjson", line, unit, cursor)
            self._file(rel + DIGESTS).write(digests)
            self.manifest.collections[pattern] = self.manifest.collections.get(pattern, 0) + 1
            self._maybe_checkpoint()

    def write_block(self, block: DocumentBlock, *, unit: str, cursor: Any) -> None:
        """Documents encoded elsewhere (another process), written as ``write_document`` would write them."""
        with self._lock:
            if self.manifest.complete:
                raise SnapshotError(f"{self.directory} is complete; it takes no more writes")
            for rel, data in block.files.items():
                self._file(rel).write(data)
            for pattern, count in block.counts.items():
                self.manifest.collections[pattern] = self.manifest.collections.get(pattern, 0) + count
            self._progress.units.setdefault(unit, _Unit()).cursor = cursor
            self._maybe_checkpoint(block.records)

    def write_auth_user(self, user: AuthUser, *, unit: str, cursor: Any) -> None:
        with self._lock:
            self._append(AUTH_USERS, msgspec.json.encode(user), unit, cursor)
            self.manifest.auth_users += 1
            self._maybe_checkpoint()

    def _append(self, rel: str, line: bytes, unit: str, cursor: Any) -> None:
        if self.manifest.complete:
            raise SnapshotError(f"{self.directory} is complete; it takes no more writes")
        f = self._file(rel)
        f.write(line)
        f.write(b"\n")
        self._progress.units.setdefault(unit, _Unit()).cursor = cursor

    def _file(self, rel: str) -> Any:
        f = self._files.get(rel)
        if f is None:
            # Kept open across writes; a large buffer, as a checkpoint flushes anyway.
            f = self._files[rel] = open(self.directory / rel, "ab", buffering=_WRITE_BUFFER)  # noqa: SIM115
        self._written.add(rel)
        return f

    def _maybe_checkpoint(self, records: int = 1) -> None:
        self._since_checkpoint += records
        if self._since_checkpoint >= self._checkpoint_every:
            self.checkpoint()

    def checkpoint(self) -> None:
        """Make everything written so far durable, with the cursors and counts that match it."""
        with self._lock:
            for rel in self._written:  # the others have the lengths the last checkpoint recorded
                f = self._files[rel]
                f.flush()
                os.fsync(f.fileno())
                self._progress.files[rel] = f.tell()
            self._written.clear()
            self._progress.state["collections"] = self.manifest.collections
            self._progress.state["authUsers"] = self.manifest.auth_users
            _write_atomic(self.directory / PROGRESS, msgspec.json.encode(self._progress))
            self._since_checkpoint = 0

    def finish(self) -> Manifest:
        """Mark the snapshot complete. Only call it when every source was read to its end."""
        with self._lock:
            self.checkpoint()
            self._close_files()
            self.manifest.files = {
                k: v for k, v in sorted(self._progress.files.items()) if k not in self._without_digests
            }
            self.manifest.complete = True
            _write_atomic(self.directory / MANIFEST, msgspec.json.encode(self.manifest))
            (self.directory / PROGRESS).unlink(missing_ok=True)
            return self.manifest

    def _close_files(self) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()


class _Located(msgspec.Struct):
    """A document line decoded for its path only (the fields are skipped, not built)."""

    path: str


_PATH_ONLY = msgspec.json.Decoder(_Located)


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return None


class Snapshot:
    """Reads a snapshot as streams: bounded memory whatever the file sizes."""

    def __init__(self, directory: Path, *, require_complete: bool = True) -> None:
        self.directory = Path(directory)
        self.manifest = _read_manifest(self.directory)
        if require_complete and not self.manifest.complete:
            raise SnapshotError(f"{self.directory} is an unfinished extract; run the extract again to finish it")

    def roots(self) -> list[str]:
        """The root collections present, sorted."""
        return sorted(p.stem for p in (self.directory / FIRESTORE_DIR).glob("*.ndjson"))

    def iter_auth_users(self) -> Iterator[AuthUser]:
        yield from self._iter_lines(self.directory / AUTH_USERS, msgspec.json.Decoder(AuthUser))

    def iter_documents(self, root: str | None = None) -> Iterator[Document]:
        """Every document, or only those under one root collection."""
        decoder = msgspec.json.Decoder(Document)
        for name in [root] if root is not None else self.roots():
            yield from self._iter_lines(self.directory / FIRESTORE_DIR / f"{name}.ndjson", decoder)

    def iter_lines(self, root: str, decoder: msgspec.json.Decoder[Any] | None = None) -> Iterator[tuple[Any, bytes]]:
        """(document, its line without the newline) under one root: ``line_digest`` of the line is what the
        load records of the document and verify checks it against. ``decoder`` may decode less than a whole
        Document."""
        path = self.directory / FIRESTORE_DIR / f"{root}.ndjson"
        decode = (decoder or msgspec.json.Decoder(Document)).decode
        for number, line in self._lines(path):
            try:
                doc = decode(line)
            except msgspec.DecodeError as exc:
                raise SnapshotError(f"{path}:{number}: corrupt line: {exc}") from None
            yield doc, line.rstrip(b"\n")

    def digests(self, root: str) -> Path | None:
        """The ``.digests`` file of one root (see ``digest_row``), if the extract wrote one and neither file
        changed length since; else None, and ``iter_digests`` derives the same rows from the documents."""
        rel = f"{FIRESTORE_DIR}/{root}"
        files = self.manifest.files
        for name in (rel + ".ndjson", rel + DIGESTS):
            if name not in files or _size(self.directory / name) != files[name]:
                return None
        return self.directory / (rel + DIGESTS)

    def iter_digests(self, root: str) -> Iterator[tuple[str, str, str]]:
        """(collection pattern, path, MD5 of the line) of every document under one root, from its lines."""
        for located, line in self.iter_lines(root, _PATH_ONLY):
            yield collection_pattern(located.path), located.path, line_digest(line)

    @classmethod
    def _iter_lines(cls, path: Path, decoder: msgspec.json.Decoder[Any]) -> Iterator[Any]:
        for number, line in cls._lines(path):
            try:
                yield decoder.decode(line)
            except msgspec.DecodeError as exc:
                raise SnapshotError(f"{path}:{number}: corrupt line: {exc}") from None

    @staticmethod
    def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
        if not path.exists():
            return
        with open(path, "rb") as f:
            yield from enumerate(f, 1)
