"""The rollback direction: snapshot documents and users written back to Firebase on loopback."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path

import firebase_admin
import pytest
from firebase_admin import auth

from etl.push import PushRefused, push_auth_users, push_to_firestore
from etl.snapshot import AuthUser, Document, Snapshot
from etl.sources import firebase_client
from etl.sources.auth_admin import iter_admin_users
from etl.sources.firestore_files import read_firestore_export
from etl.sources.firestore_live import LiveFirestore
from service.auth.firebase_hash import load_hash_config, verify_firebase_scrypt
from tests.fakes.firebase.firestore_fake import FirestoreFake
from tests.fakes.firebase.scrypt import SAMPLE_CONFIG, firebase_scrypt

FIXTURES = Path(__file__).parent / "fixtures"


def _read_back(client, paths: list[str]) -> dict[str, dict]:
    reader = LiveFirestore(client, read_time=dt.datetime.now(dt.UTC), page_size=1000)
    collections = sorted({p.rsplit("/", 1)[0] for p in paths})
    return {d.path: d.fields for c in collections for d in reader.read_collection(c)}


def test_push_to_the_fake_round_trips_every_typed_value(fake_env: str, firestore_fake: FirestoreFake) -> None:
    docs = list(read_firestore_export(FIXTURES / "firestore_export.json"))
    docs += list(read_firestore_export(FIXTURES / "firestore_backup.ndjson"))  # NaN, nanoseconds
    docs = list({d.path: d for d in docs}.values())
    client = firebase_client.firestore_client(fake_env)
    assert push_to_firestore(docs, client, batch_size=2) == len(docs)
    assert firestore_fake.calls["Commit"] == (len(docs) + 1) // 2
    assert firestore_fake.paths(fake_env) == sorted(d.path for d in docs)
    assert _read_back(client, [d.path for d in docs]) == {d.path: d.fields for d in docs}


def test_push_to_the_npm_emulator_with_commit_batches(emulator_env: str) -> None:
    docs = [
        Document(
            path=f"channels/c{i}/messages/m{i}",
            fields={
                "text": {"stringValue": f"hello {i}"},
                "n": {"integerValue": str(2**53 - 1 - i)},  # the emulator refuses unsafe JS integers
                "at": {"timestampValue": "2024-05-01T10:00:00Z"},
                "from": {"referenceValue": f"users/u{i}"},
                "geo": {"geoPointValue": {"latitude": 1.0, "longitude": -1.0}},
                "raw": {"bytesValue": "+/8="},
                "meta": {"mapValue": {"fields": {"tags": {"arrayValue": {"values": [{"booleanValue": True}]}}}}},
            },
        )
        for i in range(5)
    ]
    client = firebase_client.firestore_client(emulator_env)
    assert push_to_firestore(docs, client, batch_size=2) == 5
    assert _read_back(client, [d.path for d in docs]) == {d.path: d.fields for d in docs}
    assert not client.document("channels/c1").get().exists  # parents stay missing, as in the source


def test_the_npm_emulator_refusing_int64_gets_one_line_naming_the_value(emulator_env: str) -> None:
    safe = Document(path="a/ok", fields={"n": {"integerValue": str(2**53 - 1)}})
    big = Document(path="b/big", fields={"deep": {"arrayValue": {"values": [{"integerValue": str(-(2**63))}]}}})
    client = firebase_client.firestore_client(emulator_env)
    with pytest.raises(PushRefused, match=r"integer -9223372036854775808 \(b/big deep \[0\]\).*1 documents were"):
        push_to_firestore([safe, big], client, batch_size=1)
    assert client.document("a/ok").get().to_dict() == {"n": 2**53 - 1}
    assert not client.document("b/big").get().exists  # never written as something else


def test_push_refuses_oversized_batches() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        push_to_firestore([], client=None, batch_size=501)  # type: ignore[arg-type]


def test_push_auth_users_keeps_old_passwords_working(auth_env: str, tmp_path: Path) -> None:
    config = load_hash_config(json.dumps(SAMPLE_CONFIG))
    salts = {f"u{i}": bytes([0xFB, 0xFF, i, 7]) for i in range(3)}
    users = [
        AuthUser(
            uid=uid,
            email=f"{uid}@example.com",
            email_verified=True,
            display_name=f"User {uid}",
            created_at=1_700_000_000_000,
            last_signed_in_at=1_700_000_500_000,
            custom_claims={"role": "admin"} if uid == "u0" else None,
            password_hash=base64.b64encode(firebase_scrypt(f"pw-{uid}", salt)).decode(),
            salt=base64.b64encode(salt).decode(),
        )
        for uid, salt in salts.items()
    ]
    users.append(AuthUser(uid="nohash", email="nohash@example.com", disabled=True, hash_redacted=True))
    result = push_auth_users(users, config, project_id=auth_env, batch_size=2)
    assert result.imported == 4 and result.failures == []

    app = firebase_client.admin_app(auth_env)
    try:
        back = {u.uid: u for u, _ in iter_admin_users(app)}
        record = auth.get_user("u0", app=app)
    finally:
        firebase_admin.delete_app(app)
    assert record.custom_claims == {"role": "admin"} and record.email_verified
    assert record.user_metadata.creation_timestamp == 1_700_000_000_000
    for user in users[:3]:
        assert back[user.uid].password_hash == user.password_hash and back[user.uid].salt == user.salt
        assert verify_firebase_scrypt(f"pw-{user.uid}", back[user.uid].salt, back[user.uid].password_hash, config)
    assert back["nohash"].password_hash is None and back["nohash"].disabled


def test_snapshot_to_firestore_and_back_is_identical(fake_env: str, tmp_path: Path) -> None:
    from etl.extract import ExtractOptions, extract

    extract(tmp_path / "first", firestore_export=FIXTURES / "firestore_export.json")
    client = firebase_client.firestore_client(fake_env)
    push_to_firestore(Snapshot(tmp_path / "first").iter_documents(), client)
    extract(
        tmp_path / "second", firestore_live=True, project_id=fake_env, options=ExtractOptions(page_size=2, workers=2)
    )
    first = {d.path: d.fields for d in Snapshot(tmp_path / "first").iter_documents()}
    second = {d.path: d.fields for d in Snapshot(tmp_path / "second").iter_documents()}
    assert second == first
