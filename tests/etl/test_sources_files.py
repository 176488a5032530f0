"""File sources: auth:export JSON/CSV, node-firestore-import-export JSON, firestore-backfire NDJSON."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from etl.extract import ExtractError, extract
from etl.snapshot import AuthUser, Snapshot
from etl.sources.auth_common import AuthSourceError
from etl.sources.auth_export import read_auth_export
from etl.sources.firestore_files import ExportFormatError, read_firestore_export
from etl.values import to_python

FIXTURES = Path(__file__).parent / "fixtures"
ALICE_HASH = "lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ=="


def by_uid(users: list[AuthUser]) -> dict[str, AuthUser]:
    return {u.uid: u for u in users}


def test_auth_json_export() -> None:
    users = by_uid(list(read_auth_export(FIXTURES / "auth_export.json")))
    alice, bob, carol = users["u-alice"], users["u-bob"], users["u-carol"]
    assert alice == AuthUser(
        uid="u-alice",
        email="alice@example.com",
        email_verified=True,
        display_name='Alice "Al" Smith, PhD',
        phone_number="+14155550100",
        photo_url="https://example.com/a.png",
        providers=["google.com", "password", "phone"],
        created_at=1700000000000,
        last_signed_in_at=1711929600123,
        password_hash=ALICE_HASH,
        salt="42xEC+ixf3L2lw==",
        custom_claims={"role": "admin", "credits": 12},
    )
    assert bob.password_hash is None and bob.disabled and bob.providers == ["facebook.com"]
    assert carol.password_hash == "AAEC/f7/" and carol.last_signed_in_at == 1700000003000


def test_auth_csv_export_matches_the_json_export() -> None:
    from_json = by_uid(list(read_auth_export(FIXTURES / "auth_export.json")))
    from_csv = by_uid(list(read_auth_export(FIXTURES / "auth_export.csv")))
    assert from_csv["u-alice"] == from_json["u-alice"]
    assert from_csv["u-bob"] == from_json["u-bob"]
    # A claim holding an escaped quote, which firebase-tools leaves unescaped for CSV.
    assert from_csv["u-carol"].custom_claims == {"nick": 'c"c'}


def test_legacy_csv_with_an_unquoted_name_is_rejoined_with_a_warning() -> None:
    warnings: list[str] = []
    users = by_uid(list(read_auth_export(FIXTURES / "auth_export_legacy.csv", on_warning=warnings.append)))
    assert users["u-alice"].display_name == 'Alice "Al" Smith, PhD'
    assert users["u-alice"].photo_url == "https://example.com/a.png"
    assert users["u-alice"].created_at == 1700000000000 and users["u-alice"].phone_number == "+14155550100"
    assert users["u-carol"].password_hash == "AAEC/f7/"
    assert len(warnings) == 1 and "auth_export_legacy.csv:1" in warnings[0]


def test_url_safe_hashes_are_normalised(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    path.write_text('{"users": [{"localId": "x", "passwordHash": "-_8", "salt": "AQ"}]}')
    (user,) = read_auth_export(path)
    assert (user.password_hash, user.salt) == ("+/8=", "AQ==")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.json", '{"users": [{"localId": "x"', "not valid JSON"),
        ("nouid.json", '{"users": [{"email": "a@b"}]}', "user #1 has no localId"),
        ("hash.json", '{"users": [{"localId": "x", "passwordHash": "%%%"}]}', "user x passwordHash: not base64"),
        ("time.json", '{"users": [{"localId": "x", "createdAt": "soon"}]}', "not epoch milliseconds"),
        ("short.csv", "u1,a@b.c,false\n", "3 columns"),
        ("open.csv", 'u1,a@b.c,false,,,"never closed\n', "never closed"),
        ("flag.csv", "u1,a@b.c,maybe" + "," * 23 + "\n", "not a boolean"),
    ],
)
def test_corrupt_auth_exports_fail_clearly(tmp_path: Path, name: str, content: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(AuthSourceError, match=message):
        list(read_auth_export(path))


def test_node_firestore_import_export_json() -> None:
    warnings: list[str] = []
    docs = {d.path: d for d in read_firestore_export(FIXTURES / "firestore_export.json", on_warning=warnings.append)}
    assert sorted(docs) == [
        "channels/c1",
        "channels/c1/messages/m1",
        "users/u-alice",
        "users/u-alice/orders/o1",
        "users/u-ghost/orders/o9",
    ]
    assert len(warnings) == 1 and "1 document(s) with no fields but subcollections taken for missing" in warnings[0]
    alice = docs["users/u-alice"].fields
    assert alice["credits"] == {"integerValue": "9007199254740993"}
    assert alice["maxInt"] == {"integerValue": "9223372036854775807"}
    assert alice["ratio"] == {"doubleValue": 0.1} and alice["tiny"] == {"doubleValue": 5e-324}
    assert alice["active"] == {"booleanValue": True} and alice["deletedAt"] == {"nullValue": None}
    assert alice["createdAt"] == {"timestampValue": "2023-11-14T22:13:20.123456789Z"}
    assert alice["home"] == {"geoPointValue": {"latitude": 48.8566, "longitude": 2.3522}}
    assert alice["manager"] == {"referenceValue": "users/u-bob"}
    history = alice["profile"]["mapValue"]["fields"]["history"]["arrayValue"]["values"][0]["mapValue"]["fields"]
    assert history == {"at": {"timestampValue": "2024-03-01T12:00:00.000001Z"}, "score": {"integerValue": "-3"}}
    assert docs["users/u-alice/orders/o1"].fields["items"] == {"arrayValue": {"values": []}}
    assert docs["channels/c1"].fields["name"] == {"stringValue": "Général ✓"}
    assert docs["channels/c1/messages/m1"].fields["sentAt"] == {"timestampValue": "1970-01-01T00:00:00.000000001Z"}


def test_backfire_ndjson() -> None:
    docs = {d.path: d for d in read_firestore_export(FIXTURES / "firestore_backup.ndjson")}
    assert sorted(docs) == ["channels/c1/messages/m1", "users/u-alice", "users/u-ghost/orders/o9"]
    alice = docs["users/u-alice"].fields
    assert alice["credits"] == {"integerValue": "9007199254740993"}
    assert alice["score"] == {"doubleValue": "NaN"}
    assert math.isnan(to_python(alice["score"]).value)
    assert alice["createdAt"] == {"timestampValue": "2023-11-14T22:13:20.123456789Z"}
    assert alice["home"] == {"geoPointValue": {"latitude": 48.8566, "longitude": 2.3522}}
    assert alice["manager"] == {"referenceValue": "users/u-bob"}
    profile = alice["profile"]["mapValue"]["fields"]
    assert profile["history"]["arrayValue"]["values"][0]["mapValue"]["fields"]["at"] == {
        "timestampValue": "2024-03-01T12:00:00.000001Z"
    }
    assert profile["a.b"]["mapValue"]["fields"]["c"] == {"timestampValue": "1970-01-01T00:00:01Z"}


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("trunc.json", '{"__collections__": {"users": {"u1": {"a": 1', "not valid JSON|ends inside"),
        ("shape.json", '{"__collections__": {"users": []}}', "expected a JSON map"),
        (
            "type.json",
            '{"__collections__": {"u": {"a": {"x": {"__datatype__": "blob", "value": 1}}}}}',
            "u/a:x: unknown __datatype__",
        ),
        ("big.json", '{"__collections__": {"u": {"a": {"x": 99999999999999999999}}}}', "outside Firestore's int64"),
        ("line.ndjson", '{"path": "u/a", "data": {}}\n{"path": "u/b", "data": {\n', "line.ndjson:2: not valid JSON"),
        ("nodata.ndjson", '{"path": "u/a", "data": {}}\n{"path": "u/b"}\n', "line needs a string 'path'"),
        ("odd.ndjson", '{"path": "u/a/sub", "data": {}}\n', "not a document path"),
        ("hint.ndjson", '{"path": "u/a", "data": {}, "timestamps": ["nope"]}\n', "field path 'nope' is not in"),
    ],
)
def test_corrupt_firestore_exports_fail_clearly(tmp_path: Path, name: str, content: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ExportFormatError, match=message):
        list(read_firestore_export(path))


def test_extract_from_files_writes_a_complete_snapshot(tmp_path: Path) -> None:
    out = tmp_path / "snap"
    seen: list[tuple[str, int]] = []
    summary = extract(
        out,
        auth_export=FIXTURES / "auth_export.json",
        firestore_export=FIXTURES / "firestore_export.json",
        progress=lambda phase, n: seen.append((phase, n)),
    )
    assert summary.complete and summary.auth_users == 3 and summary.documents == 5
    assert summary.users_without_hash == 1 and summary.hash_redacted == 0
    assert summary.collections == {
        "channels": 1,
        "channels/*/messages": 1,
        "users": 1,
        "users/*/orders": 2,
    }
    assert any("missing parents" in w for w in summary.warnings)
    assert seen[-1] == ("firestore", 5) and ("auth", 3) in seen
    snapshot = Snapshot(out)
    assert [u.uid for u in snapshot.iter_auth_users()] == ["u-alice", "u-bob", "u-carol"]
    assert {d.path for d in snapshot.iter_documents("users")} == {
        "users/u-alice",
        "users/u-alice/orders/o1",
        "users/u-ghost/orders/o9",
    }

    again = extract(out, auth_export=FIXTURES / "auth_export.json", firestore_export=FIXTURES / "firestore_export.json")
    assert again.resumed and again.documents == 5 and "already a complete snapshot" in again.warnings[0]


def test_extract_refuses_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ExtractError, match="nothing to extract"):
        extract(tmp_path)
    with pytest.raises(ExtractError, match="one Auth source"):
        extract(tmp_path, auth_export=FIXTURES / "auth_export.json", auth_admin=True)
    with pytest.raises(ExtractError, match="no such file"):
        extract(tmp_path, firestore_export=tmp_path / "missing.json")
