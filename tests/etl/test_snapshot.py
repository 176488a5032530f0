"""The snapshot directory: append-only writes, checkpoints, resume after a crash, streaming reads."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from etl.snapshot import (
    AUTH_USERS,
    FORMAT,
    PROGRESS,
    AuthUser,
    Document,
    Snapshot,
    SnapshotError,
    SnapshotWriter,
    collection_pattern,
)


def doc(path: str, n: int = 0) -> Document:
    return Document(path=path, fields={"n": {"integerValue": str(n)}}, create_time="2024-01-01T00:00:00Z")


def test_document_path_properties() -> None:
    d = doc("channels/c1/messages/m1")
    assert (d.id, d.collection_id, d.collection_path, d.parent_path, d.root) == (
        "m1",
        "messages",
        "channels/c1/messages",
        "channels/c1",
        "channels",
    )
    assert doc("users/u1").parent_path is None
    assert collection_pattern("channels/c1/messages/m1") == "channels/*/messages"
    assert collection_pattern("users/u1") == "users"


def test_write_finish_and_read_back(tmp_path: Path) -> None:
    with SnapshotWriter(tmp_path, sources=["test"], project_id="p1") as writer:
        writer.write_auth_user(AuthUser(uid="u1", email="a@b.c", password_hash="AQI="), unit="auth", cursor=1)
        writer.write_document(doc("users/u1"), unit="docs", cursor=1)
        writer.write_document(doc("users/u1/orders/o1"), unit="docs", cursor=2)
        writer.write_document(doc("channels/c1/messages/m1"), unit="docs", cursor=3)
        manifest = writer.finish()

    raw = json.loads((tmp_path / "manifest.json").read_text())
    assert raw["format"] == FORMAT and raw["complete"] is True and raw["projectId"] == "p1"
    assert raw["collections"] == {"users": 1, "users/*/orders": 1, "channels/*/messages": 1}
    assert raw["authUsers"] == 1 and manifest.auth_users == 1
    assert not (tmp_path / PROGRESS).exists()
    assert json.loads((tmp_path / AUTH_USERS).read_text())["passwordHash"] == "AQI="
    assert json.loads((tmp_path / "firestore/users.ndjson").read_text().splitlines()[1]) == {
        "path": "users/u1/orders/o1",
        "fields": {"n": {"integerValue": "0"}},
        "createTime": "2024-01-01T00:00:00Z",
        "updateTime": None,
    }

    snapshot = Snapshot(tmp_path)
    assert snapshot.roots() == ["channels", "users"]
    assert [d.path for d in snapshot.iter_documents("users")] == ["users/u1", "users/u1/orders/o1"]
    assert [d.path for d in snapshot.iter_documents()] == ["channels/c1/messages/m1", "users/u1", "users/u1/orders/o1"]
    assert [u.uid for u in snapshot.iter_auth_users()] == ["u1"]
    assert list(snapshot.iter_documents("absent")) == []


def test_a_crash_is_cut_back_to_the_last_checkpoint(tmp_path: Path) -> None:
    writer = SnapshotWriter(tmp_path, sources=["test"], checkpoint_every=10_000).__enter__()
    for i in range(5):
        writer.write_document(doc(f"users/u{i}", i), unit="users", cursor=f"users/u{i}")
    writer.checkpoint()
    for i in range(5, 8):  # written but never checkpointed: lost in the crash
        writer.write_document(doc(f"users/u{i}", i), unit="users", cursor=f"users/u{i}")
    writer.write_document(doc("late/x"), unit="late", cursor="late/x")
    for f in writer._files.values():
        f.flush()
    with open(tmp_path / "firestore/users.ndjson", "ab") as f:
        f.write(b'{"path": "users/half')  # a torn line
    # The process dies here: no close, no finish.

    with SnapshotWriter(tmp_path, sources=["test"]) as resumed:
        assert resumed.resumed
        assert resumed.unit_cursor("users") == "users/u4"
        assert resumed.unit_cursor("late") is None
        assert resumed.manifest.collections == {"users": 5}
        assert not (tmp_path / "firestore/late.ndjson").exists()
        for i in range(5, 8):
            resumed.write_document(doc(f"users/u{i}", i), unit="users", cursor=f"users/u{i}")
        resumed.finish()

    paths = [d.path for d in Snapshot(tmp_path).iter_documents()]
    assert paths == [f"users/u{i}" for i in range(8)]
    assert Snapshot(tmp_path).manifest.collections == {"users": 8}


def test_a_crash_before_any_checkpoint_starts_over(tmp_path: Path) -> None:
    writer = SnapshotWriter(tmp_path, sources=["test"], checkpoint_every=10_000).__enter__()
    writer.write_auth_user(AuthUser(uid="u1"), unit="auth", cursor=1)
    for f in writer._files.values():
        f.flush()
    with SnapshotWriter(tmp_path, sources=["test"]) as resumed:
        assert resumed.unit_cursor("auth") is None
        assert not (tmp_path / AUTH_USERS).exists()


def test_state_and_done_units_survive_a_restart(tmp_path: Path) -> None:
    with SnapshotWriter(tmp_path, sources=["test"]) as writer:
        writer.set_state("plan", {"units": ["a", "b"]})
        writer.finish_unit("a")
    with SnapshotWriter(tmp_path, sources=["test"]) as writer:
        assert writer.get_state("plan") == {"units": ["a", "b"]}
        assert writer.unit_done("a") and not writer.unit_done("b")


def test_continuing_with_other_sources_is_refused(tmp_path: Path) -> None:
    with SnapshotWriter(tmp_path, sources=["auth-export:/a.json"]):
        pass
    with pytest.raises(SnapshotError, match="cannot be continued"), SnapshotWriter(tmp_path, sources=["auth-admin:"]):
        pass


def test_a_complete_snapshot_takes_no_more_writes(tmp_path: Path) -> None:
    with SnapshotWriter(tmp_path, sources=["test"]) as writer:
        writer.finish()
    with SnapshotWriter(tmp_path, sources=["test"]) as writer:
        assert writer.complete
        with pytest.raises(SnapshotError, match="complete"):
            writer.write_document(doc("users/u1"), unit="u", cursor=None)


def test_reader_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match=r"manifest\.json is missing"):
        Snapshot(tmp_path)
    with SnapshotWriter(tmp_path, sources=["test"]) as writer:
        writer.write_document(doc("users/u1"), unit="u", cursor=None)
    with pytest.raises(SnapshotError, match="unfinished extract"):
        Snapshot(tmp_path)
    (tmp_path / "firestore/users.ndjson").write_text('{"path": "users/u1", "fields": 3}\n')
    with pytest.raises(SnapshotError, match=r"users.ndjson:1: corrupt line"):
        list(Snapshot(tmp_path, require_complete=False).iter_documents())
    (tmp_path / "manifest.json").write_text(json.dumps({"format": "other/9", "createdAt": "x"}))
    with pytest.raises(SnapshotError, match="has format 'other/9'"):
        Snapshot(tmp_path)


def test_writer_refuses_a_collection_path(tmp_path: Path) -> None:
    with SnapshotWriter(tmp_path, sources=["test"]) as writer, pytest.raises(SnapshotError, match="not a document"):
        writer.write_document(doc("users/u1/orders"), unit="u", cursor=None)


def test_digests_files_hold_pattern_path_and_line_md5_in_copy_format(tmp_path: Path) -> None:
    odd = ["users/tab\there", "users/back\\slash", "users/new\nline", "users/u1/orders/cr\rx"]
    with SnapshotWriter(tmp_path, sources=["test"]) as writer:
        for path in ["users/u1", *odd]:
            writer.write_document(doc(path), unit="docs", cursor=None)
        writer.finish()
    snapshot = Snapshot(tmp_path)
    lines = (tmp_path / "firestore/users.ndjson").read_bytes().splitlines()
    rows = (tmp_path / "firestore/users.digests").read_bytes().splitlines()
    assert rows[0] == f"users\tusers/u1\t{hashlib.md5(lines[0]).hexdigest()}".encode()
    assert rows[1].startswith(b"users\tusers/tab\\there\t") and rows[2].startswith(b"users\tusers/back\\\\slash\t")
    assert rows[3].startswith(b"users\tusers/new\\nline\t") and rows[4].startswith(b"users/*/orders\t")
    assert snapshot.digests("users") == tmp_path / "firestore/users.digests"
    assert list(snapshot.iter_digests("users")) == [
        (collection_pattern(d.path), d.path, hashlib.md5(line).hexdigest())
        for d, line in zip(snapshot.iter_documents("users"), lines, strict=True)
    ]


def test_digests_are_not_trusted_once_a_file_changed_length(tmp_path: Path) -> None:
    with SnapshotWriter(tmp_path, sources=["test"]) as writer:
        writer.write_document(doc("users/u1"), unit="docs", cursor=None)
        writer.write_document(doc("calls/c1"), unit="docs", cursor=None)
        writer.finish()
    with open(tmp_path / "firestore/users.ndjson", "ab") as f:
        f.write(json.dumps({"path": "users/u2", "fields": {}}).encode() + b"\n")
    (tmp_path / "firestore/calls.digests").unlink()
    snapshot = Snapshot(tmp_path)
    assert snapshot.digests("users") is None and snapshot.digests("calls") is None
    assert [path for _, path, _ in snapshot.iter_digests("users")] == ["users/u1", "users/u2"]


def test_a_resume_of_an_extract_begun_without_digests_does_not_trust_them(tmp_path: Path) -> None:
    """An unfinished extract of an earlier version has no digests files: those written from the resume on
    lack the first lines, so they are left out of the manifest (and verify re-reads the documents)."""
    writer = SnapshotWriter(tmp_path, sources=["test"]).__enter__()
    writer.write_document(doc("users/u1"), unit="docs", cursor=1)
    writer.checkpoint()
    progress = json.loads((tmp_path / PROGRESS).read_text())
    del progress["files"]["firestore/users.digests"]
    (tmp_path / PROGRESS).write_text(json.dumps(progress))
    with SnapshotWriter(tmp_path, sources=["test"]) as resumed:
        resumed.write_document(doc("users/u2"), unit="docs", cursor=2)
        resumed.write_document(doc("calls/c1"), unit="docs", cursor=3)
        resumed.finish()
    snapshot = Snapshot(tmp_path)
    assert "firestore/users.digests" not in snapshot.manifest.files and snapshot.digests("users") is None
    assert snapshot.digests("calls") is not None  # begun after the resume: complete
    assert [path for _, path, _ in snapshot.iter_digests("users")] == ["users/u1", "users/u2"]
