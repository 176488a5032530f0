"""The one mapping engine: a declarative ``Spec`` per collection turns snapshot documents into table rows.

A spec lists, for each column, the source field names it may come under (newest first: ``export``
writes the first), how to convert the value, and which Firebase Auth attribute backs it. References
are kept as paths (or e-mails) here and resolved to foreign keys by the load stage, in SQL, so the
transform needs no lookup tables in memory. Whatever a document holds that the spec does not map
stays in ``extra``, typed, so ``export`` can write it back exactly.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple

import uuid_utils

from etl.snapshot import AuthUser, Document, collection_pattern
from etl.transform.convert import Context, Converter
from etl.values import InvalidValue, encode_python, parse_timestamp, to_python, utc_moment

TypedFields = dict[str, Any]
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# Firestore reserves field names of the form __name__, so these never collide with a source field.
DOC_PATH_KEY = "__documentPath__"
CLAIMS_KEY = "__customClaims__"
# What the Auth user itself held, so export gives back that user and invents nothing from the profile.
AUTH_KEY = "__authUser__"
NULL = {"nullValue": None}
# Times a document may not record; the load then keeps the row's own or takes the read time.
GUESSED_TIMES = ("created_at", "updated_at")
ID_NAMESPACE = uuid_utils.UUID("5b1d2c8e-6f0a-4c57-9a3e-7e1a3b5c0001")  # fixed forever: ids depend on it


@dataclass(frozen=True, slots=True)
class Field:
    """One column. ``names``: source fields, newest first; empty for columns that only Auth fills."""

    column: str
    names: tuple[str, ...]
    convert: Converter
    default: Any = None
    auth: str | None = None  # the AuthUser attribute that fills the column when the document does not
    auth_first: bool = False  # the Auth value wins (the e-mail: Auth holds the login identity)

    @property
    def raw_key(self) -> str:
        """Where a value that does not fit the column is kept: ``phoneRaw`` for phone."""
        return f"{self.names[0]}Raw"


@dataclass(frozen=True, slots=True)
class Ref:
    """A link to another imported row: a reference, an id, or (``by_email``) the target user's e-mail.

    With no ``names`` the link is the document's parent (``channels/c1`` for ``channels/c1/messages/m1``).
    """

    column: str
    names: tuple[str, ...]
    target: str  # the table
    collection: str  # a bare id ``abc`` means the document ``<collection>/abc``
    by_email: bool = False


@dataclass(frozen=True, slots=True)
class Members:
    """An array of ids that becomes rows of a join table (campaign contacts, chat participants)."""

    table: str
    owner_column: str
    member_column: str
    names: tuple[str, ...]
    target: str
    collection: str
    # Other columns of a membership row, as SQL over ``o`` (the owner row) and ``m`` (the member row).
    values: Mapping[str, str] = field(default_factory=dict)


class Row(NamedTuple):
    """A document turned into a staging row, its membership rows, and what the conversion observed."""

    values: tuple[Any, ...]
    members: list[tuple[str, int, str, TypedFields]]  # (owner firebase_id, position, member path, raw)
    truncated: int
    raw_kept: tuple[str, ...]


class Rejected(NamedTuple):
    reason: str


def imported_id(firebase_id: str) -> uuid_utils.UUID:
    """A name-based UUID (RFC 4122 version 5) of the document's path: the source identity alone.

    Every extract, resume or repeat of the same project gives every row the same id, whenever the
    extract ran and whatever time the document records (an exported time that was guessed at load
    would otherwise give a new id on the way back). uuid-utils computes it in 0.2 µs (the standard
    library's ``uuid5``: 3.3 µs, a tenth of a contact's transform); asyncpg writes it by its ``bytes``.
    """
    return uuid_utils.uuid5(ID_NAMESPACE, firebase_id)


def rfc3339(value: str | None) -> dt.datetime | None:
    """A snapshot's createTime/updateTime as a datetime (microseconds; the service stores no finer)."""
    if value is None:
        return None
    seconds, nanos = parse_timestamp(value)
    return EPOCH + dt.timedelta(seconds=seconds, microseconds=nanos // 1000)


@dataclass(frozen=True)
class Spec:
    """How one collection maps onto one table."""

    name: str  # the report's key
    pattern: str  # collection pattern, as in the manifest: ``contacts``, ``channels/*/messages``
    table: str
    fields: tuple[Field, ...]
    refs: tuple[Ref, ...] = ()
    members: Members | None = None
    required: tuple[str, ...] = ()  # columns without which the row cannot exist: the document is rejected
    unique: tuple[str, ...] = ()  # columns unique besides firebase_id: a clash rejects the later document
    uses_auth: bool = False
    # Columns computed from the others (and the document), e.g. first/last name from a full name.
    derive: Callable[[dict[str, Any], Document], None] | None = None

    @property
    def root(self) -> str:
        return self.pattern.split("/", 1)[0]

    def covers(self, pattern: str) -> bool:
        return pattern == self.pattern

    def matches(self, doc: Document) -> bool:
        return self.matches_path(doc.path)

    def matches_path(self, path: str) -> bool:
        if "/" not in self.pattern:  # a root collection: no need to build the pattern of every path
            return path.startswith(self.pattern) and path.count("/") == 1 and path[len(self.pattern)] == "/"
        return collection_pattern(path) == self.pattern

    @cached_property  # read for every row
    def guesses_times(self) -> bool:
        return any(f.column in GUESSED_TIMES for f in self.fields)

    @cached_property  # called for every row: one C call instead of a generator over the fields
    def _field_values(self) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
        names = [f.column for f in self.fields]
        if len(names) < 2:  # itemgetter of one key returns the value, not a tuple; of none, fails
            return lambda row: tuple(row[name] for name in names)
        return operator.itemgetter(*names)

    @cached_property
    def columns(self) -> tuple[str, ...]:
        """Staging columns, in the order of ``Row.values``."""
        refs = [c for r in self.refs for c in (f"{r.column}__path", f"{r.column}__email", f"{r.column}__raw")]
        guess = ("times__guess",) if self.guesses_times else ()
        return ("ord", "firebase_id", "id", *(f.column for f in self.fields), "extra", *refs, *guess)

    def transform(self, doc: Document, position: int, ctx: Context, auth: AuthUser | None = None) -> Row | Rejected:
        ctx.truncated = 0
        try:
            return self._transform(doc, position, ctx, auth)
        except InvalidValue as exc:
            return Rejected(f"corrupt typed value: {exc}")

    def _transform(self, doc: Document, position: int, ctx: Context, auth: AuthUser | None) -> Row | Rejected:
        source = doc.fields
        used: set[str] = set()
        row, extra, kept = self._columns(source, auth, ctx, used)
        self._fill_times(row, doc, ctx)
        if self.derive:
            self.derive(row, doc)
        missing = [c for c in self.required if row.get(c) is None]
        if missing:
            return Rejected(f"no value for required column(s) {', '.join(missing)} of {self.table}")
        refs = [value for ref in self.refs for value in _reference(ref, doc, used, ctx)]
        members = self._members(doc, used, ctx)
        if auth is not None:
            extra.update(_auth_extras(doc, auth))
        if len(used) < len(source):  # only names the document has are marked used
            extra.update((k, v) for k, v in source.items() if k not in used)
        path = self._path(doc, auth)
        values = (
            position,
            path,
            imported_id(path),
            *self._field_values(row),
            extra,
            *refs,
            *((ctx.read_time,) if self.guesses_times else ()),
        )
        return Row(values, members, ctx.truncated, tuple(kept))

    def _columns(
        self, source: TypedFields, auth: AuthUser | None, ctx: Context, used: set[str]
    ) -> tuple[dict[str, Any], TypedFields, list[str]]:
        """(column values, values kept raw for extra, columns they did not fit). Marks the fields used."""
        row: dict[str, Any] = {}
        raw: TypedFields = {}
        kept: list[str] = []
        for spec in self.fields:
            for name in spec.names:  # the first name the document has (inlined: it runs for every field)
                if name in source:
                    break
            else:
                name = None
            if name is None and (auth is None or spec.auth is None):
                row[spec.column] = spec.default
                continue
            typed = None
            if name is not None:
                used.add(name)
                typed = source[name]
                if "nullValue" in typed and typed == NULL:
                    raw[name] = typed  # an explicit null: kept, so export writes it back as null
            try:
                if auth is None:  # the common case, inlined: this loop runs for every field of every row
                    value = _python(typed, ctx)
                    row[spec.column] = spec.default if value is None else spec.convert(value, ctx)
                else:
                    row[spec.column] = _pick(spec, typed, auth, ctx)
            except InvalidValue:
                raise  # a corrupt snapshot value, not a value that misfits its column: reject the document
            except ValueError:
                row[spec.column] = spec.default
                if name is not None:
                    raw[spec.raw_key] = typed
                    kept.append(spec.column)
        return row, raw, kept

    def _path(self, doc: Document, auth: AuthUser | None) -> str:
        """A profile stored under another id than its Auth uid is keyed by the uid, which is what links use."""
        return doc.path if auth is None or auth.uid == doc.id else f"{self.pattern}/{auth.uid}"

    def _fill_times(self, row: dict[str, Any], doc: Document, ctx: Context) -> None:
        """No creation time in the data: Firestore's createTime. Neither: left null here, and the load
        keeps the time the row already has, else takes the snapshot's read time (``times__guess``), so a
        second extract of the same files (another read time) changes nothing."""
        if "created_at" in row and row["created_at"] is None:
            row["created_at"] = rfc3339(doc.create_time)
        if "updated_at" in row and row["updated_at"] is None:
            row["updated_at"] = rfc3339(doc.update_time) or row.get("created_at")

    def _members(self, doc: Document, used: set[str], ctx: Context) -> list[tuple[str, int, str, TypedFields]]:
        spec = self.members
        if spec is None:
            return []
        name = next((n for n in spec.names if n in doc.fields), None)
        typed = doc.fields.get(name) if name else None
        items = (typed or {}).get("arrayValue", {}).get("values") if isinstance(typed, dict) else None
        if name is None or items is None:
            return []  # absent, or not an array: an unmapped field, kept in extra
        used.add(name)
        out = []
        for position, item in enumerate(items):
            value = _python(item, ctx)
            if isinstance(value, str) and value:
                out.append((doc.path, position, _as_path(value, spec.collection), item))
        return out


def _present(names: tuple[str, ...], source: TypedFields) -> str | None:
    """The first of the names the document has (a plain loop: this runs for every field of every row)."""
    for name in names:
        if name in source:
            return name
    return None


def _python(typed: Any, ctx: Context) -> Any:
    # Fast paths for the common kinds (this runs for every field of every row); the rest takes the codec.
    if len(typed) == 1:
        raw = typed.get("stringValue")
        if type(raw) is str:
            return raw
        raw = typed.get("integerValue")
        if type(raw) is str:
            return int(raw)
        raw = typed.get("timestampValue")
        if type(raw) is str:
            moment, truncated = utc_moment(raw)
            ctx.truncated += truncated
            return moment
        raw = typed.get("arrayValue")
        if type(raw) is dict and (texts := _texts(raw.get("values"))) is not None:
            return texts
    converted = to_python(typed)
    ctx.truncated += converted.truncated_timestamps
    return converted.value


def _texts(items: Any) -> list[str] | None:
    """The strings of an array of string values (tags, member ids); None if it holds anything else."""
    if type(items) is not list:
        return None
    out = []
    for item in items:
        text = item.get("stringValue") if type(item) is dict and len(item) == 1 else None
        if type(text) is not str:
            return None
        out.append(text)
    return out


def _pick(spec: Field, typed: Any, auth: AuthUser | None, ctx: Context) -> Any:
    """The column value: from the document or from Auth (as the spec orders them), converted."""
    from_doc = _python(typed, ctx) if typed is not None else None
    from_auth = getattr(auth, spec.auth) if auth is not None and spec.auth else None
    if spec.auth_first and from_auth not in (None, "", []):
        value = from_auth
    else:
        value = from_doc if from_doc is not None else from_auth
    return spec.default if value is None else spec.convert(value, ctx)


def _as_path(value: str, collection: str) -> str:
    """``abc`` -> ``users/abc``; a reference (``users/abc``, ``/users/abc``) stays a path."""
    value = value.strip().strip("/")
    return value if "/" in value else f"{collection}/{value}"


def _reference(ref: Ref, doc: Document, used: set[str], ctx: Context) -> tuple[Any, Any, Any]:
    """(path, e-mail, raw field) of one link; raw is what ``extra`` keeps if the target is missing."""
    if not ref.names:
        return doc.parent_path, None, None
    name = _present(ref.names, doc.fields)
    if name is None:
        return None, None, None
    value = _python(doc.fields[name], ctx)
    if value is None:
        used.add(name)
        return None, None, None
    if not isinstance(value, str) or not value.strip():
        return None, None, None  # not a link at all: left unmapped, so it stays in extra
    used.add(name)
    raw = {name: doc.fields[name]}
    if ref.by_email and "@" in value:
        return None, value.strip().lower(), raw
    return _as_path(value, ref.collection), None, raw


def _auth_extras(doc: Document, auth: AuthUser) -> TypedFields:
    """What export needs and no column holds: the profile's own path (when not its uid), custom claims."""
    out: TypedFields = {}
    if auth.uid != doc.id:
        out[DOC_PATH_KEY] = {"stringValue": doc.path}
    if auth.custom_claims:
        out[CLAIMS_KEY] = encode_python(auth.custom_claims)
    present = [name for name, value in (("phoneNumber", auth.phone_number), ("photoUrl", auth.photo_url)) if value]
    out[AUTH_KEY] = encode_python({"createdAt": auth.created_at, "fields": present})
    return out
