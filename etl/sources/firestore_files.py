"""Firestore documents from export files written by popular tools, streamed one document at a time.

Two formats (detected from the first line):

- **node-firestore-import-export JSON**: one nested object. ``{"__collections__": {"<collection>":
  {"<doc id>": {<fields>..., "__collections__": {...}}}}}``. Special values are wrapped as
  ``{"__datatype__": "timestamp" | "geopoint" | "documentReference", "value": ...}`` (see
  ``etl.values.encode_datatype_json``). Parsed incrementally with ijson, so only one document's
  fields are in memory at a time. The tool writes a parent document that does not exist as ``{}``
  with subcollections; a document with no fields but with subcollections is therefore taken for such
  a missing parent: it is not emitted, only its subcollections are (and a warning counts them).
- **firestore-backfire NDJSON** (the ``firestore-backup`` style line format): one document per line,
  ``{"path": "users/a", "data": {...}, "timestamps": ["a.b"], "geopoints": [...], "documents": [...]}``
  where the lists hold dotted field paths of values serialised as ``{"_seconds", "_nanoseconds"}``,
  ``{"_latitude", "_longitude"}`` and ``{"_path": {"segments": [...]}}``.

What these formats cannot carry, the snapshot cannot recover: JSON.stringify writes NaN and
Infinity as null, integers past 2^53 were already rounded by JavaScript, bytes come out as maps of
indices, and a whole-number double is indistinguishable from an integer (it becomes integerValue).
Integers are read exactly as written; NDJSON lines also accept the NaN/Infinity literals.

Not supported: the managed export (``gcloud firestore export``, LevelDB log files). Use the live
source instead, or import that export into a database first.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ijson
import msgspec

from etl.snapshot import Document, DocumentBlock, SnapshotError, validate_document_path
from etl.values import InvalidValue, encode_datatype_fields, encode_datatype_json

Warn = Callable[[str], None]
Events = Iterator[tuple[str, Any]]


class ExportFormatError(ValueError):
    """An export file that cannot be read (the message names the file and where)."""


def _ignore(_: str) -> None:
    return None


def read_firestore_export(path: Path, on_warning: Warn = _ignore) -> Iterator[Document]:
    """Documents from an export file in either supported format."""
    path = Path(path)
    if is_backfire(path):
        yield from read_backfire_ndjson(path)
    else:
        yield from read_import_export_json(path, on_warning)


def is_backfire(path: Path) -> bool:
    """Whether the first JSON object's top-level keys are a backfire line's (``path`` and ``data``).

    Only the keys are looked at, streamed: the node tool writes the whole export as one line, so reading
    that line (or parsing it) would hold the entire file in memory.
    """
    keys: set[str] = set()
    with open(path, "rb") as f:
        try:
            for prefix, event, value in ijson.parse(f, multiple_values=True):
                if event == "map_key" and prefix == "":
                    if value == "__collections__":
                        return False
                    keys.add(value)
                    if {"path", "data"} <= keys:
                        return True
                elif event == "end_map" and prefix == "":
                    return False
        except ijson.JSONError:
            return False
    return False


# ---------------------------------------------------------------------------------------------
# node-firestore-import-export JSON


def read_import_export_json(path: Path, on_warning: Warn = _ignore) -> Iterator[Document]:
    skipped = 0

    def count_skipped() -> None:
        nonlocal skipped
        skipped += 1

    with open(path, "rb") as f:
        events: Events = iter(ijson.basic_parse(f))
        try:
            _expect(events, "start_map", path)
            for key in _map_keys(events, path):
                if key == "__collections__":
                    yield from _collections(events, "", path, count_skipped)
                else:
                    _build(events)  # root-level data: not a document, nothing to keep
        except ijson.JSONError as exc:
            raise ExportFormatError(f"{path}: not valid JSON: {exc}") from None
    if skipped:
        on_warning(f"{path}: {skipped} document(s) with no fields but subcollections taken for missing parents")


def _expect(events: Events, kind: str, where: object) -> None:
    event = next(events, ("end of file", None))
    if event[0] != kind:
        raise ExportFormatError(f"{where}: expected a JSON {kind.removeprefix('start_')}, found {event[0]}")


def _map_keys(events: Events, where: object) -> Iterator[str]:
    """The keys of the map being read; the caller consumes each key's value before the next."""
    for event, value in events:
        if event == "map_key":
            yield value
        elif event == "end_map":
            return
        else:
            raise ExportFormatError(f"{where}: malformed JSON map ({event})")
    raise ExportFormatError(f"{where}: the file ends inside a map")


def _build(events: Events) -> Any:
    """Materialise one JSON value (a field's value, never a whole collection)."""
    builder = ijson.ObjectBuilder()
    depth = 0
    for event, value in events:
        builder.event(event, value)
        depth += event in ("start_map", "start_array")
        depth -= event in ("end_map", "end_array")
        if depth == 0:
            return builder.value
    raise ExportFormatError("the file ends inside a value")


def _collections(events: Events, parent: str, path: Path, skipped: Callable[[], None]) -> Iterator[Document]:
    _expect(events, "start_map", f"{path}: {parent or 'root'} __collections__")
    for collection_id in _map_keys(events, path):
        collection = f"{parent}/{collection_id}" if parent else collection_id
        _expect(events, "start_map", f"{path}: collection {collection}")
        for doc_id in _map_keys(events, path):
            yield from _document(events, f"{collection}/{doc_id}", path, skipped)


def _document(events: Events, doc_path: str, path: Path, skipped: Callable[[], None]) -> Iterator[Document]:
    _expect(events, "start_map", f"{path}: document {doc_path}")
    fields: dict[str, Any] = {}
    has_children = False
    for key in _map_keys(events, path):
        if key == "__collections__":
            for child in _collections(events, doc_path, path, skipped):
                has_children = True
                yield child
        else:
            fields[key] = _encode(_build(events), doc_path, key, path)
    if not fields and has_children:
        skipped()
        return
    yield _checked(Document(path=doc_path, fields=fields), path)


def _encode(value: Any, doc_path: str, key: str, source: Path) -> dict[str, Any]:
    try:
        return encode_datatype_json(value)
    except InvalidValue as exc:
        raise ExportFormatError(f"{source}: {doc_path}:{exc.within(key)}") from None


def _checked(doc: Document, where: object) -> Document:
    try:
        validate_document_path(doc.path)
    except SnapshotError as exc:
        raise ExportFormatError(f"{where}: {exc}") from None
    return doc


# ---------------------------------------------------------------------------------------------
# firestore-backfire NDJSON


class _BackfireLine(msgspec.Struct):
    """What a backfire line holds that the import uses (other keys are ignored)."""

    path: str
    data: dict[str, Any]
    timestamps: list[str] | None = None
    geopoints: list[str] | None = None
    documents: list[str] | None = None


_decode_line = msgspec.json.Decoder(_BackfireLine).decode  # integers of any size stay exact
_BAD_LINE = "a line needs a string 'path', an object 'data', and lists of field paths as type hints"


def read_backfire_ndjson(path: Path) -> Iterator[Document]:
    with open(path, "rb") as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                yield _backfire_document(line, path, number)


def backfire_blocks(path: Path, *, skip: int = 0, size: int = 4 << 20) -> Iterator[tuple[int, bytes]]:
    """(number of its first line, whole lines) of about ``size`` bytes each, after the first ``skip`` records.

    Skipped records (a resume) are counted, not decoded. A line longer than ``size`` makes one longer block.
    """
    with open(path, "rb") as f:
        number = 1
        while skip and (line := f.readline()):
            number += 1
            skip -= bool(line.strip())
        pieces: list[bytes] = []
        while data := f.read(size):
            cut = data.rfind(b"\n") + 1
            if not cut:
                pieces.append(data)
                continue
            block = b"".join([*pieces, data[:cut]])
            pieces = [data[cut:]]
            yield number, block
            number += block.count(b"\n")
        if rest := b"".join(pieces):
            yield number, rest


def encode_backfire_block(path: Path, number: int, data: bytes) -> DocumentBlock:
    """The documents of ``backfire_blocks`` lines, encoded for the snapshot (runs in a worker process)."""
    block = DocumentBlock()
    for line in data.split(b"\n"):
        if line.strip():
            block.add(_backfire_document(line, path, number))
        number += 1
    return block


def _backfire_document(text: bytes, path: Path, number: int) -> Document:
    """One line; ``path`` and ``number`` only name the line in an error (never formatted otherwise)."""
    try:
        line = _decode_line(text)
    except msgspec.ValidationError as exc:
        raise ExportFormatError(f"{path}:{number}: {_BAD_LINE} ({exc})") from None
    except msgspec.DecodeError:
        line = _decode_javascript(text, f"{path}:{number}")
    data = line.data
    for kind, hints in (
        ("timestamp", line.timestamps),
        ("geopoint", line.geopoints),
        ("documentReference", line.documents),
    ):
        for dotted in hints or ():
            found = _locate(data, dotted)
            if found is None:
                raise ExportFormatError(f"{path}:{number}: field path {dotted!r} is not in the document's data")
            container, name = found
            value = container[name]
            if kind == "documentReference":
                value = "/".join(value["_path"]["segments"]) if isinstance(value, dict) else value
            container[name] = {"__datatype__": kind, "value": value}
    doc_path = line.path.strip("/")
    try:
        fields = encode_datatype_fields(data)
    except InvalidValue as exc:
        raise ExportFormatError(f"{path}:{number}: {doc_path}:{exc}") from None
    try:
        validate_document_path(doc_path)
    except SnapshotError as exc:
        raise ExportFormatError(f"{path}:{number}: {exc}") from None
    return Document(path=doc_path, fields=fields)


def _decode_javascript(text: bytes, where: str) -> _BackfireLine:
    """What msgspec refuses and JavaScript tools write: NaN/Infinity literals, numbers past a double."""
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise ExportFormatError(f"{where}: not valid JSON: {exc}") from None
    try:
        return msgspec.convert(raw, _BackfireLine)
    except msgspec.ValidationError as exc:
        raise ExportFormatError(f"{where}: {_BAD_LINE} ({exc})") from None


def _locate(data: dict[str, Any], dotted: str) -> tuple[Any, Any] | None:
    """(container, key) of a dotted field path, None if it is not there; keys that contain dots are matched
    greedily (the whole path as one top-level name first: the usual hint, answered without splitting)."""
    if dotted in data:
        return data, dotted
    parts = dotted.split(".")
    container: Any = data
    i = 0
    while True:
        for j in range(len(parts), i, -1):
            key: Any = ".".join(parts[i:j])
            if isinstance(container, list) and key.isdigit() and int(key) < len(container):
                key = int(key)
            elif not (isinstance(container, dict) and key in container):
                continue
            if j == len(parts):
                return container, key
            container, i = container[key], j
            break
        else:
            return None
