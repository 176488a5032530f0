"""Verify accounts for every source document, and says so only when it is true."""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg
import msgspec
import pytest
from rich.console import Console

from etl.load.loader import load
from etl.snapshot import AuthUser, Document, Snapshot
from etl.values import to_python
from etl.verify import VerifyError, render, verify, write_json
from tests.etl.helpers import doc, reachimpact_documents, reachimpact_users, write_snapshot


@pytest.fixture
async def loaded(db: asyncpg.Connection, tmp_path: Path) -> Snapshot:
    snapshot = Snapshot(write_snapshot(tmp_path / "snap", reachimpact_documents(), reachimpact_users()))
    await load(db, snapshot)
    return snapshot


async def test_a_complete_import_is_accounted_for(db: asyncpg.Connection, loaded: Snapshot, tmp_path: Path) -> None:
    report = await verify(db, loaded)
    assert report.ok
    stages = {s.stage: s for s in report.stages}
    assert (stages["calls"].source, stages["calls"].matching, stages["calls"].rejected) == (3, 2, 1)
    assert stages["auth_users"].rejected == 1  # the phone-only user has no e-mail
    assert all(s.checksum_source == s.checksum_target for s in report.stages)
    assert report.unknown_collections == {"notifications": 1, "users/*/settings": 1}

    write_json(report, tmp_path / "report.json")
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["ok"] is True
    assert data["stages"][0]["load"]["inserted"] == 3
    console = Console(record=True, width=200)
    render(report, console)
    assert "Every source document is accounted for" in console.export_text()


async def test_a_lost_or_changed_row_is_reported(db: asyncpg.Connection, loaded: Snapshot) -> None:
    await db.execute("DELETE FROM calls WHERE firebase_id = 'calls/x2'")
    await db.execute("UPDATE contacts SET notes = 'edited' WHERE firebase_id = 'contacts/c1'")
    await db.execute("UPDATE users SET extra = '{}' WHERE firebase_id = 'users/u1'")
    report = await verify(db, loaded)
    assert not report.ok
    stages = {s.stage: s for s in report.stages}
    assert (stages["calls"].unaccounted, stages["calls"].examples) == (1, ["calls/x2"])
    assert (stages["contacts"].mismatched, stages["contacts"].examples) == (1, ["contacts/c1"])
    assert stages["contacts"].checksum_source != stages["contacts"].checksum_target
    assert stages["users"].mismatched == 1  # an unmapped field lost from extra is a difference too


async def test_records_of_an_older_load_are_refused_until_a_restarted_load(
    db: asyncpg.Connection, loaded: Snapshot
) -> None:
    # Before row digests were 64-bit hashes, loads recorded MD5s: they would all compare as mismatched.
    await db.execute("UPDATE etl_documents SET want = md5(want) WHERE want IS NOT NULL")
    with pytest.raises(VerifyError, match="etl load --restart"):
        await verify(db, loaded)
    await load(db, loaded, restart=True)
    assert (await verify(db, loaded)).ok


async def test_a_lost_dead_letter_is_unaccounted(db: asyncpg.Connection, loaded: Snapshot) -> None:
    await db.execute("DELETE FROM etl_dead_letters WHERE document_path = 'users/nomail'")
    report = await verify(db, loaded)
    assert not report.ok
    assert {s.stage: s.unaccounted for s in report.stages}["users"] == 1


async def test_a_source_changed_after_the_load_is_a_mismatch(
    db: asyncpg.Connection, loaded: Snapshot, tmp_path: Path
) -> None:
    """Verify compares the snapshot with what the load recorded of it: a document or an Auth user edited
    since (here: another snapshot with two changes) is different, and an unseen document is unaccounted."""
    documents = [
        doc("contacts/c1", **{**_fields(d), "notes": "edited"}) if d.path == "contacts/c1" else d
        for d in reachimpact_documents()
    ]
    documents.append(doc("contacts/c9", firstName="New"))
    users = [
        AuthUser(**{**msgspec.structs.asdict(u), "display_name": "Carol B."}) if u.uid == "carol-uid" else u
        for u in reachimpact_users()
    ]
    other = Snapshot(write_snapshot(tmp_path / "other", documents, users))
    report = await verify(db, other)
    assert not report.ok
    stages = {s.stage: s for s in report.stages}
    assert (stages["contacts"].mismatched, stages["contacts"].unaccounted) == (1, 1)
    assert stages["contacts"].examples == ["contacts/c1", "contacts/c9"]
    assert (stages["users"].mismatched, stages["users"].examples) == (1, ["users/auto9"])  # joined by e-mail
    assert (stages["calls"].matching, stages["calls"].rejected) == (2, 1)
    assert (await verify(db, loaded)).ok


def _fields(document: Document) -> dict:
    return {k: to_python(v).value for k, v in document.fields.items()}


async def test_without_digests_files_verify_rereads_the_documents(db: asyncpg.Connection, loaded: Snapshot) -> None:
    """The .digests files only save verify the decoding; without them (or with a changed snapshot file) the
    report is the same, and a defect is found the same way."""
    await db.execute("DELETE FROM calls WHERE firebase_id = 'calls/x2'")
    fast = await verify(db, loaded)
    for digests in (loaded.directory / "firestore").glob("*.digests"):
        digests.unlink()
    slow = await verify(db, Snapshot(loaded.directory))
    assert msgspec.to_builtins(slow) == msgspec.to_builtins(fast)
    assert {s.stage: s.unaccounted for s in slow.stages}["calls"] == 1 and not slow.ok


async def test_digests_files_reach_the_server_as_the_paths_they_hold(db: asyncpg.Connection, tmp_path: Path) -> None:
    """COPY's text format escapes tab, newline, carriage return and backslash: every path arrives unchanged."""
    paths = ["notes/plain", "notes/tab\there", "notes/back\\slash", "notes/new\nline", "notes/n1/sub/cr\r\\t"]
    snapshot = Snapshot(write_snapshot(tmp_path / "odd", [doc(p, text="x") for p in paths]))
    await db.execute("CREATE TEMP TABLE lines (pattern text, path text, digest text)")
    await db.copy_to_table("lines", source=snapshot.digests("notes"))
    rows = [tuple(r) for r in await db.fetch("SELECT pattern, path, digest FROM lines")]
    assert rows == list(snapshot.iter_digests("notes"))
    assert [r[1] for r in rows] == paths and rows[-1][0] == "notes/*/sub"
