"""The typed-value codec against the Firestore client's own wire encoding."""

from __future__ import annotations

import base64
import datetime as dt
import math

import pytest
from google.api_core.datetime_helpers import DatetimeWithNanoseconds
from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore
from google.cloud.firestore_v1 import GeoPoint, _helpers
from google.protobuf import json_format
from google.protobuf.timestamp_pb2 import Timestamp

from etl.values import (
    InvalidValue,
    encode_datatype_json,
    encode_python,
    fields_to_python,
    format_timestamp,
    parse_timestamp,
    strip_reference,
    to_firestore,
    to_python,
    utc_moment,
)

CLIENT = firestore.Client(project="values-test", credentials=AnonymousCredentials())
NANOS = DatetimeWithNanoseconds.from_timestamp_pb(Timestamp(seconds=1_700_000_000, nanos=123_456_789))
BIG = 2**53 + 1

SAMPLE = {
    "s": "héllo",
    "i": BIG,
    "neg": -(2**63),
    "d": 1.5,
    "whole_double": 2.0,
    "nan": math.nan,
    "inf": math.inf,
    "ninf": -math.inf,
    "b": True,
    "n": None,
    "ts": NANOS,
    "ts_micro": dt.datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=dt.UTC),
    "geo": GeoPoint(48.85, 2.35),
    "bytes": b"\x00\xfb\xff",
    "ref": CLIENT.document("users/abc"),
    "map": {"nested": [1, {"deep": NANOS}, [b"\x01"]], "empty": {}},
    "arr": [],
}


def wire_json(value: object) -> dict:
    """The Firestore REST/JSON encoding, as protobuf's JSON mapping writes the client's Value."""
    encoded = json_format.MessageToDict(_helpers.encode_value(value)._pb)
    return _relative_refs(encoded)


def _relative_refs(node: object) -> object:
    """Relative reference paths, and explicit empty maps/arrays (the JSON mapping omits them)."""
    if node == {"mapValue": {}}:
        return {"mapValue": {"fields": {}}}
    if node == {"arrayValue": {}}:
        return {"arrayValue": {"values": []}}
    if isinstance(node, dict):
        return {k: strip_reference(v) if k == "referenceValue" else _relative_refs(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_relative_refs(v) for v in node]
    return node


@pytest.mark.parametrize("name", sorted(SAMPLE))
def test_encode_python_matches_the_wire_encoding(name: str) -> None:
    typed = encode_python(SAMPLE[name])
    expected = wire_json(SAMPLE[name])
    if name == "nan":  # NaN != NaN: compare the spelling
        assert typed == expected == {"doubleValue": "NaN"}
    else:
        assert typed == expected


def test_special_values_keep_full_precision() -> None:
    assert encode_python(NANOS) == {"timestampValue": "2023-11-14T22:13:20.123456789Z"}
    assert encode_python(BIG) == {"integerValue": "9007199254740993"}
    assert encode_python(b"\xfb\xff") == {"bytesValue": "+/8="}  # standard, not URL-safe
    assert encode_python(CLIENT.document("a/b/c/d")) == {"referenceValue": "a/b/c/d"}


def test_integers_outside_int64_are_refused_with_their_field_path() -> None:
    with pytest.raises(InvalidValue, match=r"x\.y: integer 9223372036854775808"):
        encode_python({"y": 2**63}, "x")


@pytest.mark.parametrize(
    ("seconds", "nanos", "text"),
    [
        (0, 0, "1970-01-01T00:00:00Z"),
        (1, 500_000_000, "1970-01-01T00:00:01.500Z"),
        (1, 1_000, "1970-01-01T00:00:01.000001Z"),
        (1, 1, "1970-01-01T00:00:01.000000001Z"),
        (-1, 999_999_999, "1969-12-31T23:59:59.999999999Z"),
        (253402300799, 0, "9999-12-31T23:59:59Z"),
        (-62135596800, 0, "0001-01-01T00:00:00Z"),  # four year digits (glibc's strftime writes "1")
        (-50000000000, 1_000, "0385-07-25T07:06:40.000001Z"),
    ],
)
def test_timestamps_use_protobufs_json_form(seconds: int, nanos: int, text: str) -> None:
    assert format_timestamp(seconds, nanos) == text
    assert json_format.MessageToJson(Timestamp(seconds=seconds, nanos=nanos)).strip('"') == text
    assert parse_timestamp(text) == (seconds, nanos)


def test_parse_timestamp_accepts_offsets_and_rejects_garbage() -> None:
    assert parse_timestamp("2024-01-01T01:00:00.25+01:00") == (1704067200, 250_000_000)
    with pytest.raises(InvalidValue, match="not an RFC 3339"):
        parse_timestamp("yesterday")


def _parsed(text: str) -> tuple[dt.datetime, int]:
    seconds, nanos = parse_timestamp(text)
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=seconds, microseconds=nanos // 1000), int(
        nanos % 1000 != 0
    )


@pytest.mark.parametrize(
    "text",
    [
        "2024-08-18T12:48:39Z",
        "2024-08-18T12:48:39.295Z",
        "2024-08-18T12:48:39.295082Z",
        "2024-08-18T12:48:39.295082000Z",
        "2024-08-18T12:48:39.295082001Z",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999999999Z",
        "2024-08-18t12:48:39Z",  # the rest take the full parse
        "2024-08-18 12:48:39.5Z",
        "2024-08-18T12:48:39.295082+02:00",
        " 2024-08-18T12:48:39Z ",
        "2024-08-18T12:48:39.29508Z",
    ],
)
def test_utc_moment_is_the_full_parse_of_any_accepted_timestamp(text: str) -> None:
    moment, truncated = utc_moment(text)
    assert (moment, truncated) == _parsed(text)
    assert moment.tzinfo is dt.UTC


@pytest.mark.parametrize(
    "text",
    [
        "2024-13-18T12:48:39Z",
        "2024-02-30T12:48:39.295Z",
        "2024-08-18T24:00:00.000000Z",
        "2024-08-18T12:48:60Z",
        "2024-08-18T12:48:39,295Z",
        "0000-01-01T00:00:00Z",
        "\uff12\uff1024-08-18T12:48:39Z",  # fullwidth digits
        "2024-08-18T12:48:39.2950820001Z",
    ],
)
def test_utc_moment_refuses_what_the_full_parse_refuses(text: str) -> None:
    """A ValueError either way: the transform keeps such a value raw in ``extra`` (an InvalidValue, a
    malformed typed value, would reject the document)."""
    with pytest.raises(ValueError):
        utc_moment(text)
    with pytest.raises(ValueError):
        parse_timestamp(text)


def test_datatype_json_wrappers() -> None:
    typed = encode_datatype_json(
        {
            "created": {"__datatype__": "timestamp", "value": {"_seconds": 12343456, "_nanoseconds": 7890}},
            "iso": {"__datatype__": "timestamp", "value": "2020-05-01T10:00:00.123456789Z"},
            "where": {"__datatype__": "geopoint", "value": {"_latitude": -12.5, "_longitude": 34}},
            "owner": {"__datatype__": "documentReference", "value": "users/u1"},
            "list": [1, 2.5, None, {"__datatype__": "documentReference", "value": "a/b"}],
        }
    )
    assert typed["mapValue"]["fields"] == {
        "created": {"timestampValue": "1970-05-23T20:44:16.000007890Z"},
        "iso": {"timestampValue": "2020-05-01T10:00:00.123456789Z"},
        "where": {"geoPointValue": {"latitude": -12.5, "longitude": 34.0}},
        "owner": {"referenceValue": "users/u1"},
        "list": {
            "arrayValue": {
                "values": [
                    {"integerValue": "1"},
                    {"doubleValue": 2.5},
                    {"nullValue": None},
                    {"referenceValue": "a/b"},
                ]
            }
        },
    }


def test_unknown_datatype_is_an_error_naming_the_field() -> None:
    with pytest.raises(InvalidValue, match=r"doc\.x: unknown __datatype__ 'bigint'"):
        encode_datatype_json({"x": {"__datatype__": "bigint", "value": "1"}}, "doc")
    with pytest.raises(InvalidValue, match=r"t: bad geopoint"):
        encode_datatype_json({"__datatype__": "geopoint", "value": {"lat": 1}}, "t")


def test_to_python_for_the_load_stage() -> None:
    converted = fields_to_python(encode_python(SAMPLE)["mapValue"]["fields"])
    value = converted.value
    assert converted.truncated_timestamps == 2  # "ts" and the one nested in "map"
    assert value["ts"] == dt.datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=dt.UTC)
    assert value["ts_micro"] == SAMPLE["ts_micro"]
    assert value["i"] == BIG and isinstance(value["i"], int)
    assert value["whole_double"] == 2.0 and isinstance(value["whole_double"], float)
    assert math.isnan(value["nan"]) and value["inf"] == math.inf and value["ninf"] == -math.inf
    assert value["geo"] == {"latitude": 48.85, "longitude": 2.35}
    assert value["bytes"] == b"\x00\xfb\xff"
    assert value["ref"] == "users/abc"
    assert value["map"] == {"nested": [1, {"deep": value["ts"]}, [b"\x01"]], "empty": {}}
    assert to_python({"timestampValue": "2020-01-01T00:00:00.000001Z"}).truncated_timestamps == 0


def test_to_python_rejects_malformed_typed_values() -> None:
    with pytest.raises(InvalidValue, match="exactly one kind"):
        to_python({"stringValue": "a", "integerValue": "1"})
    with pytest.raises(InvalidValue, match="unknown typed value kind"):
        to_python({"decimalValue": "1"})
    with pytest.raises(ValueError):
        to_python({"bytesValue": "not base64!"})


def test_to_firestore_round_trips_every_type() -> None:
    typed = encode_python(SAMPLE)
    client_value = to_firestore(typed, CLIENT)
    assert client_value["ts"].nanosecond == 123_456_789
    assert isinstance(client_value["ref"], firestore.DocumentReference) and client_value["ref"].path == "users/abc"
    assert encode_python(client_value) == typed
    assert base64.b64decode(typed["mapValue"]["fields"]["bytes"]["bytesValue"]) == b"\x00\xfb\xff"
