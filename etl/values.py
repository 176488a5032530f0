"""Typed Firestore values: the codec between source values and the snapshot's typed JSON.

A typed value is the Firestore REST ``Value`` JSON encoding, e.g. ``{"integerValue": "42"}`` or
``{"mapValue": {"fields": {...}}}``. It is the one lossless form every source converts into:

- ``encode_python`` takes google-cloud-firestore client values (live reads);
- ``encode_datatype_json`` takes node-firestore-import-export JSON (``__datatype__`` wrappers);
- ``to_python`` gives the load stage plain Python values;
- ``to_firestore`` gives client values back for the rollback push.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import math
import re
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn

# The client library (~50 MB in a process) is imported only where its own types are met: live reads and the
# push, not the load and its staging worker, which convert typed values only.
if TYPE_CHECKING:
    from google.cloud.firestore_v1 import Client

TypedValue = dict[str, Any]
TypedFields = dict[str, TypedValue]

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_EPOCH_DATE = _EPOCH.date()
_MINUTES = tuple(f"{h:02d}:{m:02d}" for h in range(24) for m in range(60))
_TIMESTAMP_RE = re.compile(r"^(\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?([Zz]|[+-]\d\d:\d\d)$")
_DOCUMENTS_PREFIX_RE = re.compile(r"^projects/[^/]+/databases/[^/]+/documents/")


class InvalidValue(ValueError):
    """A source value that has no Firestore equivalent (the message names the field path)."""

    def __init__(self, reason: str, where: str = "") -> None:
        super().__init__(f"{where}: {reason}" if where else reason)
        self.reason = reason
        self.where = where

    def within(self, key: object) -> InvalidValue:
        """The same error seen from the container holding it under ``key`` (the path grows at the front).

        Encoders build a field path only on the way out of an error, never for the values that encode fine.
        """
        return InvalidValue(self.reason, f"{key}.{self.where}" if self.where else str(key))


# ---------------------------------------------------------------------------------------------
# Timestamps: seconds + nanos, RFC 3339 with 0, 3, 6 or 9 fraction digits (protobuf's JSON form)


def format_timestamp(seconds: int, nanos: int) -> str:
    """RFC 3339 in UTC with the protobuf JSON rule: 0, 3, 6 or 9 fractional digits."""
    if not 0 <= nanos < 1_000_000_000:
        raise InvalidValue(f"timestamp nanos out of range: {nanos}")
    # Per field of most documents: the date is cached, the time of day looked up (4x a datetime's isoformat).
    days, rest = divmod(seconds, 86_400)
    minute, second = divmod(rest, 60)
    base = f"{_date(days)}T{_MINUTES[minute]}:{second:02d}"
    if nanos == 0:
        return base + "Z"
    if nanos % 1_000_000 == 0:
        return f"{base}.{nanos // 1_000_000:03d}Z"
    if nanos % 1_000 == 0:
        return f"{base}.{nanos // 1_000:06d}Z"
    return f"{base}.{nanos:09d}Z"


@functools.lru_cache(maxsize=4096)
def _date(days: int) -> str:
    """The date ``days`` after the epoch; isoformat pads years before 1000 to four digits (strftime may not)."""
    return (_EPOCH_DATE + dt.timedelta(days=days)).isoformat()


def parse_timestamp(text: str) -> tuple[int, int]:
    """RFC 3339 (any offset, up to 9 fraction digits) -> (epoch seconds, nanos)."""
    match = _TIMESTAMP_RE.match(text.strip())
    if match is None:
        raise InvalidValue(f"not an RFC 3339 timestamp: {text!r}")
    whole, fraction, offset = match.groups()
    offset = "+00:00" if offset in ("Z", "z") else offset
    moment = dt.datetime.fromisoformat(whole.replace(" ", "T").replace("t", "T") + offset)
    seconds = (moment - _EPOCH) // dt.timedelta(seconds=1)
    return seconds, int((fraction or "").ljust(9, "0"))


def timestamp_from_datetime(moment: dt.datetime) -> str:
    """A datetime (naive means UTC; DatetimeWithNanoseconds keeps its nanoseconds) as a typed string."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    nanos = moment.microsecond * 1000
    # A copied DatetimeWithNanoseconds keeps its microseconds but reports 0 nanoseconds: trust it only when they agree.
    nanosecond = getattr(moment, "nanosecond", None)  # only DatetimeWithNanoseconds has one
    if nanosecond is not None and nanosecond // 1000 == moment.microsecond:
        nanos = nanosecond
    seconds = (moment.replace(microsecond=0) - _EPOCH) // dt.timedelta(seconds=1)
    return format_timestamp(seconds, nanos)


def strip_reference(name: str) -> str:
    """``projects/p/databases/d/documents/users/a`` -> ``users/a`` (already relative paths pass)."""
    return _DOCUMENTS_PREFIX_RE.sub("", name)


# ---------------------------------------------------------------------------------------------
# Encoding into typed values


def _integer(value: int) -> TypedValue:
    if not INT64_MIN <= value <= INT64_MAX:
        raise InvalidValue(f"integer {value} is outside Firestore's int64 range")
    return {"integerValue": str(value)}


def _double(value: float) -> TypedValue:
    if math.isnan(value):
        return {"doubleValue": "NaN"}
    if math.isinf(value):
        return {"doubleValue": "Infinity" if value > 0 else "-Infinity"}
    return {"doubleValue": value}


def _bytes(value: bytes) -> TypedValue:
    return {"bytesValue": base64.b64encode(value).decode("ascii")}


def _fields(data: Mapping[str, Any], encode: Callable[[Any], TypedValue]) -> TypedFields:
    try:
        return {key: encode(value) for key, value in data.items()}
    except InvalidValue:
        _name_the_failure(data.items(), encode)


def _values(items: Iterable[Any], encode: Callable[[Any], TypedValue]) -> list[TypedValue]:
    try:
        return [encode(value) for value in items]
    except InvalidValue:
        _name_the_failure(enumerate(items), encode)


def _name_the_failure(pairs: Iterable[tuple[object, Any]], encode: Callable[[Any], TypedValue]) -> NoReturn:
    """Encode again one by one, to put the key of the value that failed into the error (error path only)."""
    for key, value in pairs:
        try:
            encode(value)
        except InvalidValue as exc:
            raise exc.within(key) from None
    raise AssertionError("an encoding failed once and not again")


def _at(where: str, encode: Callable[[Any], TypedValue], value: Any) -> Any:
    """``encode(value)``, errors located under ``where``."""
    try:
        return encode(value)
    except InvalidValue as exc:
        raise (exc.within(where) if where else exc) from None


def encode_python(value: Any, where: str = "") -> TypedValue:
    """A google-cloud-firestore client value (as returned by ``DocumentSnapshot.to_dict()``)."""
    return _at(where, _python, value)


def encode_fields(data: Mapping[str, Any], where: str = "") -> TypedFields:
    """A client document's ``to_dict()`` as typed fields."""
    return _at(where, lambda d: _fields(d, _python), data)


def encode_plain_json(value: Any, where: str = "") -> TypedValue:
    """A parsed JSON value (ints exact, Decimal or float for fractions); no special types."""
    return _at(where, _plain, value)


def encode_datatype_json(value: Any, where: str = "") -> TypedValue:
    """A node-firestore-import-export JSON value: plain JSON plus ``{"__datatype__", "value"}`` wrappers.

    Wrappers (as that tool writes them): ``timestamp`` (``{"_seconds", "_nanoseconds"}`` or a date
    string), ``geopoint`` (``{"_latitude", "_longitude"}``), ``documentReference`` (a path).
    """
    return _at(where, _datatype, value)


def encode_datatype_fields(data: Mapping[str, Any]) -> TypedFields:
    """A document's node-firestore-import-export JSON fields; an error's path starts at the field name."""
    return _fields(data, _datatype)


# The encoders are hot (every field of every document): exact built-in types are tested first, by identity,
# before the general (isinstance, ABC) cases.
_SCALARS = frozenset((str, int, float, bool, type(None)))


def _python(value: Any) -> TypedValue:
    kind = type(value)
    if kind is str:
        return {"stringValue": value}
    if kind is int:
        return _integer(value)
    match value:
        case None:
            return {"nullValue": None}
        case bool():
            return {"booleanValue": value}
        case int():
            return _integer(value)
        case float():
            return _double(value)
        case str():
            return {"stringValue": value}
        case bytes() | bytearray() | memoryview():
            return _bytes(bytes(value))
        case dt.datetime():
            return {"timestampValue": timestamp_from_datetime(value)}
        case Mapping():
            return {"mapValue": {"fields": _fields(value, _python)}}
        case list() | tuple():
            return {"arrayValue": {"values": _values(value, _python)}}
    return _client_value(value)


def _client_value(value: Any) -> TypedValue:
    """The client library's own value types (neither mappings nor sequences, so tested last)."""
    from google.cloud.firestore_v1 import GeoPoint
    from google.cloud.firestore_v1.base_document import BaseDocumentReference

    if isinstance(value, GeoPoint):
        return {"geoPointValue": {"latitude": value.latitude, "longitude": value.longitude}}
    if isinstance(value, BaseDocumentReference):
        return {"referenceValue": value.path}
    raise InvalidValue(f"unsupported Firestore value type {type(value).__name__}")


def _plain(value: Any) -> TypedValue:
    if type(value) in _SCALARS:
        return _python(value)
    match value:
        case Decimal():
            return _double(float(value))
        case Mapping():
            return {"mapValue": {"fields": _fields(value, _plain)}}
        case list():
            return {"arrayValue": {"values": _values(value, _plain)}}
    return _python(value)


def _datatype(value: Any) -> TypedValue:
    kind = type(value)
    if kind is str:
        return {"stringValue": value}
    if kind is dict or (kind not in _SCALARS and kind is not list and isinstance(value, Mapping)):
        if "__datatype__" in value and "value" in value:
            return _decode_datatype(str(value["__datatype__"]), value["value"])
        return {"mapValue": {"fields": _fields(value, _datatype)}}
    if kind is list:
        return {"arrayValue": {"values": _values(value, _datatype)}}
    return _plain(value)


def _decode_datatype(kind: str, raw: Any) -> TypedValue:
    try:
        if kind == "timestamp":
            return {"timestampValue": timestamp_from_parts(raw)}
        if kind == "geopoint":
            return geopoint_from_parts(raw)
        if kind in ("documentReference", "documentReferencePath"):
            return {"referenceValue": strip_reference(str(raw))}
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidValue(f"bad {kind} value {raw!r}: {exc}") from exc
    raise InvalidValue(f"unknown __datatype__ {kind!r}")


def timestamp_from_parts(raw: Any) -> str:
    """``{"_seconds", "_nanoseconds"}`` (also without underscores) or an RFC 3339 string."""
    if isinstance(raw, str):
        return format_timestamp(*parse_timestamp(raw))
    seconds = raw["_seconds"] if "_seconds" in raw else raw["seconds"]
    nanos = raw.get("_nanoseconds", raw.get("nanoseconds", 0))
    return format_timestamp(int(seconds), int(nanos))


def geopoint_from_parts(raw: Mapping[str, Any]) -> TypedValue:
    """``{"_latitude", "_longitude"}`` (also without underscores) as a geoPointValue."""
    latitude = raw["_latitude"] if "_latitude" in raw else raw["latitude"]
    longitude = raw["_longitude"] if "_longitude" in raw else raw["longitude"]
    return {"geoPointValue": {"latitude": float(latitude), "longitude": float(longitude)}}


# ---------------------------------------------------------------------------------------------
# Decoding typed values


class Converted(NamedTuple):
    """A Python value, and how many timestamps inside it lost digits below the microsecond."""

    value: Any
    truncated_timestamps: int


def to_python(value: TypedValue) -> Converted:
    """Typed value -> Python value for the load stage.

    timestamp -> aware UTC datetime (sub-microsecond digits dropped and counted); integer -> int
    (exact); double -> float (NaN/inf kept); geopoint -> {"latitude", "longitude"}; bytes -> bytes;
    reference -> path string; map -> dict; array -> list.
    """
    kind, raw = _single(value)
    if kind == "mapValue":
        return fields_to_python(raw.get("fields") or {})
    if kind == "arrayValue":
        items = [to_python(v) for v in raw.get("values") or []]
        return Converted([c.value for c in items], sum(c.truncated_timestamps for c in items))
    if kind == "timestampValue":
        return Converted(*utc_moment(raw))
    return Converted(_scalar(kind, raw), 0)


# Lengths of ``YYYY-MM-DDTHH:MM:SS[.fff|.ffffff|.fffffffff]Z``, the form Firestore and the extract write.
_ZULU_LENGTHS = frozenset((20, 24, 27, 30))


def utc_moment(text: str) -> tuple[dt.datetime, int]:
    """A ``timestampValue`` -> (aware UTC datetime, 1 if it lost digits below the microsecond, else 0).

    The usual form goes straight to ``fromisoformat`` (15x quicker than ``parse_timestamp``, and it runs for
    most fields of most documents); any other form, or one ``fromisoformat`` refuses, takes the full parse."""
    if len(text) in _ZULU_LENGTHS and text[-1] == "Z" and text[10] == "T" and text[19] in ".Z":
        try:  # not contextlib.suppress: its enter and exit cost as much as the parse
            return dt.datetime.fromisoformat(text), int(len(text) == 30 and text[26:29] != "000")
        except ValueError:
            pass
    seconds, nanos = parse_timestamp(text)
    return _EPOCH + dt.timedelta(seconds=seconds, microseconds=nanos // 1000), int(nanos % 1000 != 0)


def fields_to_python(fields: Mapping[str, TypedValue]) -> Converted:
    """Typed fields -> dict, with the total count of truncated timestamps."""
    out, truncated = {}, 0
    for name, typed in fields.items():
        converted = to_python(typed)
        out[name] = converted.value
        truncated += converted.truncated_timestamps
    return Converted(out, truncated)


def _scalar(kind: str, raw: Any) -> Any:
    match kind:
        case "nullValue":
            return None
        case "booleanValue" | "stringValue" | "referenceValue":
            return raw
        case "integerValue":
            return int(raw)
        case "doubleValue":
            return _NON_FINITE[raw] if isinstance(raw, str) else float(raw)
        case "bytesValue":
            return base64.b64decode(raw, validate=True)
        case "geoPointValue":
            return {"latitude": float(raw["latitude"]), "longitude": float(raw["longitude"])}
    raise InvalidValue(f"unknown typed value kind {kind!r}")


def _single(value: TypedValue) -> tuple[str, Any]:
    # ``type() is dict`` first: the ABC check alone was a fifth of this function, called for every value.
    if (type(value) is not dict and not isinstance(value, Mapping)) or len(value) != 1:
        raise InvalidValue(f"a typed value has exactly one kind key, got {value!r}")
    ((kind, raw),) = value.items()
    return kind, raw


def to_firestore(value: TypedValue, client: Client) -> Any:
    """Typed value -> google-cloud-firestore client value (for writing documents back)."""
    from google.api_core.datetime_helpers import DatetimeWithNanoseconds
    from google.cloud.firestore_v1 import GeoPoint
    from google.protobuf.timestamp_pb2 import Timestamp

    kind, raw = _single(value)
    match kind:
        case "mapValue":
            return fields_to_firestore(raw.get("fields") or {}, client)
        case "arrayValue":
            return [to_firestore(v, client) for v in raw.get("values") or []]
        case "timestampValue":
            seconds, nanos = parse_timestamp(raw)
            return DatetimeWithNanoseconds.from_timestamp_pb(Timestamp(seconds=seconds, nanos=nanos))
        case "geoPointValue":
            return GeoPoint(float(raw["latitude"]), float(raw["longitude"]))
        case "referenceValue":
            return client.document(raw)
    return _scalar(kind, raw)


def fields_to_firestore(fields: Mapping[str, TypedValue], client: Client) -> dict[str, Any]:
    return {name: to_firestore(typed, client) for name, typed in fields.items()}
