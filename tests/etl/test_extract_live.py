"""Live extract over real wire protocols on loopback.

- Auth: the firebase-tools Auth emulator (import_users with real Firebase-scrypt hashes, list_users pages).
- Firestore: the npm @firestore-emulator/server for get/set, named-collection queries and subcollections
  under missing parents (and its ignored start_after, which the cursor check must catch); the in-process
  gRPC fake for discovery, show_missing, PartitionQuery, injected failures and the kill/resume run.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import firebase_admin
import grpc
import pytest
from firebase_admin import auth
from google.api_core import exceptions as gexc
from google.api_core.datetime_helpers import DatetimeWithNanoseconds
from google.cloud.firestore_v1 import GeoPoint
from google.protobuf.timestamp_pb2 import Timestamp

from etl.extract import ExtractOptions, extract
from etl.snapshot import Document, Snapshot, SnapshotWriter
from etl.sources import firebase_client
from etl.sources.auth_admin import REDACTED, iter_admin_users, user_from_record
from etl.sources.firestore_live import CursorNotAdvancing, LiveFirestore, RetryPolicy
from etl.values import encode_fields
from service.auth.firebase_hash import load_hash_config, verify_firebase_scrypt
from tests.fakes.firebase.firestore_fake import FirestoreFake
from tests.fakes.firebase.scrypt import SAMPLE_CONFIG, firebase_scrypt

REPO = Path(__file__).resolve().parents[2]
FAST = ExtractOptions(
    auth_page_size=2,
    page_size=4,
    workers=4,
    partition_count=3,
    checkpoint_every=3,
    retry=RetryPolicy(initial_delay=0.01, max_delay=0.05),
)
NANOS = DatetimeWithNanoseconds.from_timestamp_pb(Timestamp(seconds=1_700_000_000, nanos=123_456_789))
WHOLE_SECONDS = dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.UTC)
SEEDED_COLLECTIONS = {  # what _seed writes, per collection pattern
    "a/*/b/*/c": 1,
    "channels/*/messages": 5,
    "tags": 1,
    "users": 10,
    "users/*/orders": 6,
    "users/*/tags": 1,
}


# ---------------------------------------------------------------------------------------------
# Auth emulator


def _import_users(app: firebase_admin.App, count: int) -> dict[str, tuple[str, bytes, bytes]]:
    """uid -> (password, salt, hash); salts chosen so URL-safe and standard base64 differ."""
    config = SAMPLE_CONFIG
    users: dict[str, tuple[str, bytes, bytes]] = {}
    records = []
    for i in range(count):
        uid, password, salt = f"user-{i:02d}", f"pw-{i}!", bytes([0xFB, 0xFF, i])
        digest = firebase_scrypt(password, salt)
        users[uid] = (password, salt, digest)
        records.append(
            auth.ImportUserRecord(uid=uid, email=f"{uid}@example.com", password_hash=digest, password_salt=salt)
        )
    hash_alg = auth.UserImportHash.scrypt(
        key=base64.b64decode(config["base64_signer_key"]),
        rounds=config["rounds"],
        memory_cost=config["mem_cost"],
        salt_separator=base64.b64decode(config["base64_salt_separator"]),
    )
    result = auth.import_users(records, hash_alg=hash_alg, app=app)
    assert result.success_count == count, [e.reason for e in result.errors]
    return users


def test_admin_source_pages_and_normalises_hashes(auth_env: str) -> None:
    app = firebase_client.admin_app(auth_env)
    try:
        imported = _import_users(app, 5)
        raw_page = auth.list_users(max_results=2, app=app)
        assert "-" in raw_page.users[0].password_salt or "_" in raw_page.users[0].password_salt  # URL-safe on the wire
        pairs = list(iter_admin_users(app, page_size=2))
    finally:
        firebase_admin.delete_app(app)
    users = {u.uid: u for u, _ in pairs}
    assert sorted(users) == sorted(imported)
    config = load_hash_config(json.dumps(SAMPLE_CONFIG))
    for uid, (password, salt, digest) in imported.items():
        user = users[uid]
        assert user.password_hash == base64.b64encode(digest).decode()
        assert user.salt == base64.b64encode(salt).decode()
        assert verify_firebase_scrypt(password, user.salt, user.password_hash, config)
        assert user.providers == ["password"] and not user.hash_redacted
    cursors = [c for _, c in pairs]
    assert [c.page_token for c in cursors] == [None, None, "user-01", "user-01", "user-03"]
    assert [c.skip for c in cursors] == [1, 2, 1, 2, 1]


def test_admin_source_resumes_inside_a_page(auth_env: str) -> None:
    app = firebase_client.admin_app(auth_env)
    try:
        _import_users(app, 5)
        pairs = list(iter_admin_users(app, page_size=2))
        rest = list(iter_admin_users(app, page_size=2, start=pairs[2][1]))
    finally:
        firebase_admin.delete_app(app)
    assert [u.uid for u, _ in rest] == ["user-03", "user-04"]


def test_extract_auth_admin_into_a_snapshot(auth_env: str, tmp_path: Path) -> None:
    app = firebase_client.admin_app(auth_env)
    try:
        imported = _import_users(app, 5)
    finally:
        firebase_admin.delete_app(app)
    summary = extract(tmp_path / "snap", auth_admin=True, project_id=auth_env, options=FAST)
    assert summary.complete and summary.auth_users == 5 and summary.hash_redacted == 0 and summary.warnings == []
    users = list(Snapshot(tmp_path / "snap").iter_auth_users())
    assert [u.uid for u in users] == sorted(imported)
    assert all(u.created_at and u.created_at > 1_600_000_000_000 for u in users)


def test_redacted_hashes_are_detected_and_reported(tmp_path: Path) -> None:
    password_user = {
        "localId": "r1",
        "passwordHash": REDACTED,
        "salt": "c2FsdA==",
        "providerUserInfo": [{"providerId": "password", "rawId": "r@x.io"}],
    }
    none_user = {"localId": "r2", "providerUserInfo": [{"providerId": "password", "rawId": "r@x.io"}]}
    google_user = {"localId": "g1", "providerUserInfo": [{"providerId": "google.com", "rawId": "g-1"}]}
    converted = [user_from_record(auth.ExportedUserRecord(raw)) for raw in (password_user, none_user, google_user)]
    assert [(u.hash_redacted, u.password_hash, u.salt) for u in converted] == [
        (True, None, None),
        (True, None, None),
        (False, None, None),
    ]
    # A finished snapshot holding such users: the summary says so plainly.
    with SnapshotWriter(tmp_path, sources=["auth-admin:p"]) as writer:
        for i, user in enumerate(converted):
            writer.write_auth_user(user, unit="auth", cursor=i)
        writer.finish()
    summary = extract(tmp_path, auth_admin=True, project_id="p")
    assert summary.hash_redacted == 2
    assert any("REDACTED" in w and "Firebase Authentication Admin" in w for w in summary.warnings)


# ---------------------------------------------------------------------------------------------
# Firestore data set


def _sample(i: int, when: dt.datetime) -> dict:
    return {
        "n": i,
        "name": f"user {i} ✓",
        "ratio": i / 7,
        "nan": math.nan,
        "when": when,
        "where": GeoPoint(1.5, -2.25),
        "blob": b"\xfb\xff" + bytes([i]),
        "tags": ["a", {"deep": [True, None]}],
    }


def _seed(client, *, exact: bool) -> dict[str, dict]:
    """Writes a ReachImpact-shaped tree; returns path -> data as written.

    ``exact=False`` leaves out what the npm emulator cannot store: integers past 2^53 and
    fractional seconds (it drops them from stored timestamps).
    """
    when = NANOS if exact else WHOLE_SECONDS
    data: dict[str, dict] = {}
    for i in range(10):
        data[f"users/u{i:02d}"] = _sample(i, when) | {"manager": client.document(f"users/u{(i + 1) % 10:02d}")}
    if exact:
        data["users/u00"]["credits"] = 2**53 + 1
    for j in range(3):
        data[f"users/u01/orders/o{j}"] = {"total": j * 100}
        data[f"users/ghost/orders/g{j}"] = {"total": j}  # the parent users/ghost does not exist
    for k in range(5):
        data[f"channels/c1/messages/m{k}"] = {"text": f"hi {k}", "at": when}
    data["tags/t1"] = {"label": "root tag"}
    data["users/u02/tags/t2"] = {"label": "nested tag"}  # same collection id at another depth
    data["a/x/b/y/c/z"] = {"depth": 3}  # under two missing parents
    batch = client.batch()
    for path, fields in data.items():
        batch.set(client.document(path), fields)
    batch.commit()
    return data


def _expected(data: dict[str, dict]) -> dict[str, dict]:
    return {path: encode_fields(fields) for path, fields in data.items()}


def _snapshot_docs(directory: Path) -> dict[str, dict]:
    docs = {}
    for doc in Snapshot(directory).iter_documents():
        assert doc.path not in docs, f"duplicate {doc.path}"
        assert doc.create_time and doc.update_time
        docs[doc.path] = doc.fields
    return docs


# ---------------------------------------------------------------------------------------------
# npm Firestore emulator


def test_emulator_named_collection_reads_every_type(emulator_env: str) -> None:
    client = firebase_client.firestore_client(emulator_env)
    data = _seed(client, exact=False)
    reader = LiveFirestore(client, read_time=dt.datetime.now(dt.UTC), page_size=100)
    users = {d.path: d.fields for d in reader.read_collection("users")}
    assert users == {p: f for p, f in _expected(data).items() if p.count("/") == 1 and p.startswith("users/")}
    assert users["users/u03"]["blob"] == {"bytesValue": "+/8D"}
    assert users["users/u03"]["nan"] == {"doubleValue": "NaN"}
    ghost = [d.path for d in reader.read_collection("users/ghost/orders")]
    assert ghost == ["users/ghost/orders/g0", "users/ghost/orders/g1", "users/ghost/orders/g2"]
    assert not client.document("users/ghost").get().exists


def test_emulator_ignoring_start_after_is_read_as_one_unordered_stream(emulator_env: str) -> None:
    client = firebase_client.firestore_client(emulator_env)
    data = _seed(client, exact=False)
    reader = LiveFirestore(client, read_time=dt.datetime.now(dt.UTC), page_size=4)
    read = list(reader.read_collection_resumable("users"))
    paths = [doc.path for doc, _ in read]
    assert sorted(paths) == sorted(p for p in data if p.count("/") == 1 and p.startswith("users/"))
    assert len(set(paths)) == len(paths) == 10  # the ignored cursor repeats nothing
    assert read[3][1] == {"after": paths[3], "count": 4}  # the first page was name-ordered paging
    assert read[-1][1] == {"unordered": 10, "last": paths[-1]}

    resumed = [doc.path for doc, _ in reader.read_collection_resumable("users", read[6][1])]
    assert resumed == paths[7:]
    with pytest.raises(CursorNotAdvancing, match="order changed"):
        list(reader.read_collection_resumable("users", {"unordered": 6, "last": paths[2]}))
    with pytest.raises(CursorNotAdvancing):  # an earlier version's name-only cursor: no count to skip by
        list(reader.read_collection_resumable("users", paths[3]))


def test_emulator_named_collections_extract_everything(emulator_env: str, tmp_path: Path) -> None:
    """No ListCollectionIds, ListDocuments or PartitionQuery: --collections names the paths."""
    data = _seed(firebase_client.firestore_client(emulator_env), exact=False)
    named = "users,users/*/orders,users/*/tags,users/ghost/orders,channels/c1/messages,tags,a/x/b/y/c"
    arguments = ["etl", "extract", str(tmp_path / "snap"), "--firestore-live", "--project-id", emulator_env]
    result = _cli([*arguments, "--collections", named], tmp_path)
    assert result.exit_code == 0, result.output
    assert _snapshot_docs(tmp_path / "snap") == _expected(data)
    assert Snapshot(tmp_path / "snap").manifest.collections == SEEDED_COLLECTIONS
    again = _cli([*arguments, "--collections", named], tmp_path)
    assert again.exit_code == 0 and "nothing was read" in again.output


def test_etl_run_loads_the_npm_emulator_and_verifies(emulator_env: str, database_url: str, tmp_path: Path) -> None:
    from etl.push import push_to_firestore
    from tests.etl.helpers import reachimpact_documents
    from tests.etl.test_cli import _sql

    # The emulator cannot hold integers past 2^53 (see test_push), so those fields stay out.
    docs = [
        Document(path=d.path, fields={k: v for k, v in d.fields.items() if k != "big"}) for d in reachimpact_documents()
    ]
    push_to_firestore(docs, firebase_client.firestore_client(emulator_env))
    named = ",".join(sorted({d.path.rsplit("/", 1)[0] for d in docs}))
    arguments = ["etl", "run", "--firestore-live", "--project-id", emulator_env, "--collections", named]
    result = _cli([*arguments, "--snapshot-dir", str(tmp_path / "snap")], tmp_path, DATABASE_URL=database_url)
    assert result.exit_code == 0, result.output
    assert "Every source document is accounted for" in result.output
    contacts = sum(d.path.count("/") == 1 and d.path.startswith("contacts/") for d in docs)
    assert _sql(database_url, "SELECT count(*) FROM contacts") == contacts


def test_bad_collection_paths_get_one_line(emulator_env: str, tmp_path: Path) -> None:
    result = _cli(
        [
            "etl",
            "extract",
            str(tmp_path / "snap"),
            "--firestore-live",
            "--project-id",
            emulator_env,
            "--collections",
            "users/u01",
        ],
        tmp_path,
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "'users/u01' is not a collection path" in result.output
    files = _cli(["etl", "extract", str(tmp_path / "snap2"), "--collections", "users"], tmp_path)
    assert files.exit_code == 1 and "needs --firestore-live" in files.output


# ---------------------------------------------------------------------------------------------
# Firestore gRPC fake


def test_partitioned_extract_reads_every_collection_at_one_read_time(
    fake_env: str, firestore_fake: FirestoreFake, tmp_path: Path
) -> None:
    data = _seed(firebase_client.firestore_client(fake_env), exact=True)
    summary = extract(tmp_path / "snap", firestore_live=True, project_id=fake_env, options=FAST)
    assert summary.complete and summary.documents == len(data)
    assert _snapshot_docs(tmp_path / "snap") == _expected(data)
    assert summary.collections == SEEDED_COLLECTIONS
    assert firestore_fake.calls["PartitionQuery"] >= 1
    read_times = {seconds for _, seconds in firestore_fake.read_times}
    assert len(read_times) == 1
    assert {m for m, _ in firestore_fake.read_times} >= {
        "RunQuery",
        "ListDocuments",
        "ListCollectionIds",
        "PartitionQuery",
    }
    assert Snapshot(tmp_path / "snap").manifest.read_time == dt.datetime.fromtimestamp(
        read_times.pop(), dt.UTC
    ).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_without_partition_query_each_collection_is_read_by_name(
    fake_env: str, firestore_fake: FirestoreFake, tmp_path: Path
) -> None:
    firestore_fake.partition_query = False
    data = _seed(firebase_client.firestore_client(fake_env), exact=True)
    extract(tmp_path / "snap", firestore_live=True, project_id=fake_env, options=FAST)
    assert _snapshot_docs(tmp_path / "snap") == _expected(data)
    assert firestore_fake.calls["RunQuery"] >= 10  # one name-ordered walk per collection path


def test_transient_errors_are_retried_without_duplicates(
    fake_env: str, firestore_fake: FirestoreFake, tmp_path: Path
) -> None:
    data = _seed(firebase_client.firestore_client(fake_env), exact=True)
    firestore_fake.fail("ListCollectionIds", grpc.StatusCode.UNAVAILABLE, 2)
    firestore_fake.fail("ListDocuments", grpc.StatusCode.RESOURCE_EXHAUSTED, 1)
    firestore_fake.fail("PartitionQuery", grpc.StatusCode.DEADLINE_EXCEEDED, 1)
    firestore_fake.fail("RunQuery", grpc.StatusCode.DEADLINE_EXCEEDED, 3)
    extract(tmp_path / "snap", firestore_live=True, project_id=fake_env, options=FAST)
    assert _snapshot_docs(tmp_path / "snap") == _expected(data)


def test_retries_give_up_after_the_policy(fake_env: str, firestore_fake: FirestoreFake) -> None:
    client = firebase_client.firestore_client(fake_env)
    _seed(client, exact=False)
    firestore_fake.fail("RunQuery", grpc.StatusCode.UNAVAILABLE, 3)
    reader = LiveFirestore(client, read_time=dt.datetime.now(dt.UTC), retry=RetryPolicy(attempts=3, initial_delay=0.01))
    started = time.monotonic()
    with pytest.raises(gexc.ServiceUnavailable):
        list(reader.read_collection("users"))
    assert firestore_fake.calls["RunQuery"] == 3 and time.monotonic() - started < 2
    assert len(list(reader.read_collection("users"))) == 10  # the failures are used up


def _run_extract_process(out: Path, host: str, project: str) -> subprocess.Popen[bytes]:
    code = (
        "import sys; from pathlib import Path; from etl.extract import extract, ExtractOptions; "
        "from etl.sources.firestore_live import RetryPolicy; "
        "extract(Path(sys.argv[1]), firestore_live=True, project_id=sys.argv[2], options=ExtractOptions("
        "page_size=2, workers=2, partition_count=3, checkpoint_every=2, retry=RetryPolicy(initial_delay=0.01)))"
    )
    env = {**os.environ, "FIRESTORE_EMULATOR_HOST": host}
    return subprocess.Popen([sys.executable, "-c", code, str(out), project], cwd=REPO, env=env)


def _lines(directory: Path) -> int:
    return (
        sum(p.read_bytes().count(b"\n") for p in (directory / "firestore").glob("*.ndjson"))
        if directory.exists()
        else 0
    )


def test_a_killed_extract_resumes_to_the_same_snapshot(
    fake_env: str, firestore_fake: FirestoreFake, tmp_path: Path
) -> None:
    data = _seed(firebase_client.firestore_client(fake_env), exact=True)
    firestore_fake.delay = 0.01
    out = tmp_path / "killed"
    for threshold in (4, 14):
        process = _run_extract_process(out, firestore_fake.host, fake_env)
        deadline = time.monotonic() + 30
        while _lines(out) < threshold and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        assert process.poll() is None, "the extract finished before it could be killed"
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        assert not Snapshot(out, require_complete=False).manifest.complete
    finished = _run_extract_process(out, firestore_fake.host, fake_env)
    assert finished.wait(timeout=60) == 0
    firestore_fake.delay = 0
    extract(tmp_path / "straight", firestore_live=True, project_id=fake_env, options=FAST)

    assert _snapshot_docs(out) == _snapshot_docs(tmp_path / "straight") == _expected(data)
    assert Snapshot(out).manifest.collections == Snapshot(tmp_path / "straight").manifest.collections


def _cli(args: list[str], tmp_path: Path, **env: str) -> Any:
    from click.testing import CliRunner

    from service.cli import main

    env = {"REACHIMPACT_DATA_DIR": str(tmp_path / "data"), "LOG_LEVEL": "WARNING", "COLUMNS": "200", **env}
    return CliRunner().invoke(main, args, env=env)


def test_a_server_without_collection_listing_gets_one_clear_line(emulator_env: str, tmp_path: Path) -> None:
    _seed(firebase_client.firestore_client(emulator_env), exact=False)
    result = _cli(
        ["etl", "extract", str(tmp_path / "snap"), "--firestore-live", "--project-id", emulator_env], tmp_path
    )
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    assert "does not implement ListCollectionIds" in result.output
    assert "--collections" in result.output and "--firestore-export" in result.output
