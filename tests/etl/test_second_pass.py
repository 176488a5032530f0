"""The import's second pass: what a rerun, a re-extract, go-live and the way back must keep (issue #17)."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import asyncpg
import pytest
from rich.console import Console

from etl.export import export_snapshot
from etl.extract import extract
from etl.load.loader import load
from etl.snapshot import AuthUser, Snapshot
from etl.sources.firestore_files import read_firestore_export
from etl.transform.convert import Context, phone_e164
from etl.verify import Report, render, verify
from tests.etl.helpers import doc, dump, reachimpact_documents, reachimpact_users, write_snapshot


@pytest.fixture
def snapshot(tmp_path: Path) -> Snapshot:
    return Snapshot(write_snapshot(tmp_path / "snap", reachimpact_documents(), reachimpact_users()))


def _stages(report: Report) -> dict:
    return {s.stage: s for s in report.stages}


# Defect 3: verify covers the membership tables.
@pytest.mark.parametrize(("table", "stage"), [("campaign_contacts", "campaigns"), ("chat_participants", "channels")])
async def test_a_lost_membership_row_fails_verify(
    db: asyncpg.Connection, snapshot: Snapshot, table: str, stage: str
) -> None:
    await load(db, snapshot)
    assert (await verify(db, snapshot)).ok
    await db.execute(f"DELETE FROM {table} WHERE ctid = (SELECT min(ctid) FROM {table})")
    report = await verify(db, snapshot)
    assert not report.ok
    assert _stages(report)[stage].mismatched == 1


# Defects 4 and 6: two extracts of the same files give the same ids and rows, and verify passes on both.
async def test_two_extracts_of_the_same_file_give_the_same_rows(db: asyncpg.Connection, tmp_path: Path) -> None:
    export = tmp_path / "firestore.json"
    export.write_text(
        json.dumps(
            {
                "__collections__": {
                    "users": {"u1": {"email": "a@x.io"}},
                    "campaigns": {"k1": {"userId": "u1", "name": "K", "contactIds": ["c1"]}},
                    "contacts": {"c1": {"userId": "u1", "firstName": "C"}},
                    "channels": {
                        "r1": {"name": "R", "members": ["u1"], "__collections__": {"messages": {"m1": {"text": "hi"}}}}
                    },
                    "calls": {"x1": {"userId": "u1", "twilioSid": "CA1"}},
                }
            }
        )
    )
    extract(tmp_path / "one", firestore_export=export)
    await load(db, Snapshot(tmp_path / "one"))
    first = await dump(db)
    extract(tmp_path / "two", firestore_export=export)
    second = Snapshot(tmp_path / "two")
    assert second.manifest.created_at != Snapshot(tmp_path / "one").manifest.created_at
    await load(db, second)
    assert await dump(db) == first
    assert (await verify(db, second)).ok


# Defect 5: what the service changed after go-live is reported apart, not undone, and exits 0.
async def test_service_changes_after_go_live_are_kept_and_reported_apart(
    db: asyncpg.Connection, snapshot: Snapshot
) -> None:
    await load(db, snapshot)
    await db.execute(
        "UPDATE users SET password_hash = '$argon2id$v=19$new', legacy_password_hash = NULL, "
        "legacy_password_salt = NULL, updated_at = now() WHERE firebase_id = 'users/u1'"
    )
    await db.execute("UPDATE users SET last_sign_in_at = now() WHERE firebase_id = 'users/u2'")
    await db.execute("UPDATE contacts SET notes = 'called back', updated_at = now() WHERE firebase_id = 'contacts/c1'")
    await load(db, snapshot, restart=True)
    report = await verify(db, snapshot)
    assert report.ok
    stages = _stages(report)
    assert (stages["users"].changed_since, stages["contacts"].changed_since) == (2, 1)
    assert stages["users"].mismatched == 0
    assert await db.fetchval("SELECT password_hash FROM users WHERE firebase_id = 'users/u1'") == "$argon2id$v=19$new"
    assert await db.fetchval("SELECT notes FROM contacts WHERE firebase_id = 'contacts/c1'") == "called back"
    console = Console(record=True, width=200)
    render(report, console)
    assert "changed by the service since the import" in console.export_text()

    # A change without the service's time stamp is wrong data, still.
    await db.execute("UPDATE contacts SET notes = 'corrupted' WHERE firebase_id = 'contacts/c2'")
    assert not (await verify(db, snapshot)).ok


# Defect 7: 00 + country code is international, whatever the default region.
@pytest.mark.parametrize(("raw", "e164"), [("0031612345018", "+31612345018"), ("00 44 20 7946 0958", "+442079460958")])
def test_00_prefixed_numbers_are_international(raw: str, e164: str) -> None:
    assert phone_e164(raw, Context(default_region="US")) == e164


# Defects 8, 9: users.phone in E.164; the role claim maps onto users.role, other claims are kept.
async def test_user_phone_is_e164_and_the_role_claim_is_mapped(db: asyncpg.Connection, tmp_path: Path) -> None:
    users = [AuthUser(uid="a1", email="a@x.io", custom_claims={"role": "admin", "tier": "gold"})]
    snap = write_snapshot(
        tmp_path / "s", [doc("users/a1", phone="+31 6 1234 0000"), doc("users/b1", email="b@x.io", phone="junk")], users
    )
    await load(db, Snapshot(snap))
    rows = {r["firebase_id"]: r for r in await db.fetch("SELECT * FROM users")}
    assert rows["users/a1"]["phone"] == "+31612340000"
    assert rows["users/a1"]["role"] == "admin"
    assert rows["users/a1"]["extra"]["__customClaims__"]["mapValue"]["fields"]["tier"] == {"stringValue": "gold"}
    assert rows["users/b1"]["phone"] is None and rows["users/b1"]["extra"]["phoneRaw"] == {"stringValue": "junk"}
    assert (await verify(db, Snapshot(snap))).ok


# Defect 10: the way back gives what was there, in its order, nothing invented.
async def test_export_is_faithful(db: asyncpg.Connection, tmp_path: Path) -> None:
    users = [AuthUser(uid="u1", email="a@x.io", created_at=1_600_000_000_000)]
    docs = [
        doc("users/u1", phone="+14155550100", profileImage="http://p/1.png", createdAt=1_700_000_000_000, bio=None),
        doc("users/ghost", email="ghost@x.io", fullName="Ghost"),
        doc("contacts/c9", userId="u1", firstName="Z"),
        doc("contacts/c1", userId="u1", firstName="A"),
        doc("campaigns/k1", userId="u1", name="K", contactIds=["c9", "c1"], description=None),
        doc("channels/r1", name="R", members=["u1", "ghost"]),
    ]
    await load(db, Snapshot(write_snapshot(tmp_path / "s", docs, users)))
    await export_snapshot(db, tmp_path / "out")
    out = Snapshot(tmp_path / "out")
    exported = {d.path: d.fields for d in out.iter_documents()}
    assert [v["stringValue"] for v in exported["campaigns/k1"]["contactIds"]["arrayValue"]["values"]] == ["c9", "c1"]
    assert [v["stringValue"] for v in exported["channels/r1"]["members"]["arrayValue"]["values"]] == ["u1", "ghost"]
    assert exported["campaigns/k1"]["description"] == {"nullValue": None}
    assert exported["users/u1"]["bio"] == {"nullValue": None}
    auth = {u.uid: u for u in out.iter_auth_users()}
    assert set(auth) == {"u1"}  # the ghost profile stays a profile
    assert (auth["u1"].phone_number, auth["u1"].photo_url, auth["u1"].created_at) == (None, None, 1_600_000_000_000)


# Defect 11: a killed run is marked interrupted by the next one.
async def test_a_killed_run_is_marked_interrupted(db: asyncpg.Connection, snapshot: Snapshot) -> None:
    stale = await db.fetchval(
        "INSERT INTO etl_runs (id, command, snapshot, started_at) "
        "VALUES (gen_random_uuid(), 'load', 'x', now() - interval '1 hour') RETURNING id"
    )
    await load(db, snapshot)
    statuses = dict(await db.fetch("SELECT id, status FROM etl_runs"))
    assert statuses.pop(stale) == "interrupted"
    assert set(statuses.values()) == {"succeeded"}


# Defect 12: Auth users joined to profiles are explained, not shown as 0.
async def test_the_report_explains_where_auth_users_went(db: asyncpg.Connection, snapshot: Snapshot) -> None:
    result = await load(db, snapshot)
    assert result.stages["auth_users"].auth_read == 5
    assert result.stages["auth_users"].auth_joined == 3
    console = Console(record=True, width=200)
    render(Report.from_load(result), console)
    text = console.export_text()
    assert "5 Auth users read: 3 joined to their profile (counted under users), 2 without a profile" in text


# Defect 1: format detection does not read a single-line export whole.
def test_a_single_line_export_is_read_in_flat_memory(tmp_path: Path) -> None:
    path = tmp_path / "one_line.json"
    contacts = {f"c{i}": {"firstName": "x" * 200, "n": i} for i in range(60_000)}
    path.write_text(json.dumps({"__collections__": {"contacts": contacts}}))
    assert path.stat().st_size > 10_000_000 and path.read_bytes().count(b"\n") == 0
    del contacts
    tracemalloc.start()
    try:
        documents = read_firestore_export(path)
        count = sum(1 for _ in documents)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 60_000
    assert peak < 3_000_000, peak
