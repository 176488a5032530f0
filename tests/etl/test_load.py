"""Loading snapshots into a real Postgres: mapping, links, orphans, dead letters, idempotency, drift."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg
import pytest

from etl.load import deferrals, fresh, indexes, rollups
from etl.load.finishing import Finisher
from etl.load.loader import load
from etl.load.stages import MEMBERS_PER_BATCH, Batches, context
from etl.snapshot import AuthUser, Snapshot
from etl.transform import CAMPAIGNS, CONTACTS
from service.db.pool import connect
from tests.analytics.helpers import rolled_and_recounted
from tests.etl.helpers import doc, dump, reachimpact_documents, reachimpact_users, typed_doc, write_snapshot

SLOT_TABLES = "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'etl\\_slot%'"


@pytest.fixture
def snapshot(tmp_path: Path) -> Snapshot:
    return Snapshot(write_snapshot(tmp_path / "snap", reachimpact_documents(), reachimpact_users()))


@pytest.fixture(params=["in-process", "staging worker"])
def staging(request: pytest.FixtureRequest, database_url: str) -> dict[str, str]:
    """Both ways a load stages its batches: in its own session, or in a worker process (``dsn``)."""
    return {"dsn": database_url} if request.param == "staging worker" else {}


async def test_rows_links_orphans_and_dead_letters(
    db: asyncpg.Connection, snapshot: Snapshot, staging: dict[str, str]
) -> None:
    result = await load(db, snapshot, batch_size=3, **staging)  # batches alternate between the worker's slots

    users = {r["firebase_id"]: r for r in await db.fetch("SELECT * FROM users")}
    assert set(users) == {"users/u1", "users/u2", "users/carol-uid", "users/u4"}
    assert users["users/u1"]["legacy_password_hash"] == "aGFzaA=="
    assert users["users/u1"]["password_reset_required"] is False
    assert users["users/u2"]["email"] == "bob@example.com"  # from Auth, lower-cased
    assert users["users/u2"]["password_reset_required"] is True  # Google sign-in: no hash
    # A profile under another id, joined by e-mail: keyed by the uid (links use it), its path kept.
    assert users["users/carol-uid"]["extra"]["__documentPath__"] == {"stringValue": "users/auto9"}
    assert users["users/u4"]["disabled"] is True  # an Auth user without a profile document

    contacts = {r["firebase_id"]: r for r in await db.fetch("SELECT * FROM contacts")}
    assert contacts["contacts/c1"]["user_id"] == users["users/u1"]["id"]
    assert contacts["contacts/c2"]["user_id"] == users["users/u2"]["id"]  # linked by e-mail
    assert contacts["contacts/c3"]["user_id"] is None  # orphan: kept, null key, raw link in extra
    assert contacts["contacts/c3"]["extra"] == {"userId": {"stringValue": "ghost"}}

    members = await db.fetch("SELECT c.firebase_id FROM campaign_contacts cc JOIN contacts c ON c.id = cc.contact_id")
    assert sorted(r[0] for r in members) == ["contacts/c1", "contacts/c2"]
    campaign = await db.fetchrow("SELECT status, extra FROM campaigns")
    assert campaign["status"] == "active"
    assert campaign["extra"] == {"contactIds": {"arrayValue": {"values": [{"stringValue": "missing"}]}}}

    call = await db.fetchrow("SELECT * FROM calls WHERE firebase_id = 'calls/x2'")
    assert call["sentiment"] == {"score": 0.8, "label": "good"}
    assert call["contact_id"] is None
    assert call["extra"]["big"] == {"integerValue": str(2**60)}  # past 2^53, exact

    lost = await db.fetchrow(
        "SELECT room_id, sender_id FROM chat_messages WHERE firebase_id = $1", "channels/lost/messages/m2"
    )
    assert lost["room_id"] is None and lost["sender_id"] == users["users/u2"]["id"]
    other = {r["firebase_id"]: r["collection"] for r in await db.fetch("SELECT * FROM firestore_documents")}
    assert other == {"notifications/n1": "notifications", "users/u1/settings/s1": "users/u1/settings"}

    dead = {r["document_path"]: r["reason"] for r in await db.fetch("SELECT * FROM etl_dead_letters")}
    assert set(dead) == {"users/nomail", "users/phone-only", "calls/x3"}
    assert "twilio_sid" in dead["calls/x3"]
    assert result.stages["contacts"].orphans == 1
    assert result.stages["other"].collections == {"notifications": 1, "users/*/settings": 1}
    assert await db.fetchval(SLOT_TABLES) == 0  # the worker's tables are dropped at the end


async def test_the_staging_worker_writes_what_an_in_process_load_writes(
    db: asyncpg.Connection, database_url: str, second_database_url: str, snapshot: Snapshot
) -> None:
    staged = await load(db, snapshot, batch_size=2, dsn=database_url)
    reference = await connect(second_database_url)
    try:
        in_process = await load(reference, snapshot, batch_size=2)
        assert await dump(db) == await dump(reference)
    finally:
        await reference.close()
    assert staged.stages == in_process.stages


async def test_a_second_run_changes_nothing(db: asyncpg.Connection, snapshot: Snapshot) -> None:
    await load(db, snapshot)
    before = await dump(db)
    versions = await db.fetch("SELECT firebase_id, xmin::text FROM contacts ORDER BY 1")

    await load(db, snapshot)  # finished: every stage is skipped
    again = await load(db, snapshot, restart=True)  # every document applied again
    assert all(c.inserted == c.updated == 0 for c in again.stages.values())
    assert again.stages["contacts"].unchanged == 3

    assert await dump(db) == before
    assert await db.fetch("SELECT firebase_id, xmin::text FROM contacts ORDER BY 1") == versions  # no row rewritten


TABLES = ("users", "contacts", "campaigns", "calls", "chat_messages", "firestore_documents")


async def _indexes(db: asyncpg.Connection) -> dict[str, tuple[int, bool, str]]:
    """Index name -> (oid, unique, definition) on the loaded tables."""
    rows = await db.fetch(
        "SELECT c.relname, c.oid::int, i.indisunique, pg_get_indexdef(c.oid) FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid::regclass::text = ANY($1::text[])",
        list(TABLES),
    )
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


async def test_a_first_import_builds_the_secondary_indexes_after_the_rows(
    db: asyncpg.Connection, snapshot: Snapshot, staging: dict[str, str]
) -> None:
    before = await _indexes(db)
    await load(db, snapshot, **staging)  # with the worker, the GIN ones are built on its connection
    after = await _indexes(db)
    assert {n: d for n, (_, _, d) in after.items()} == {n: d for n, (_, _, d) in before.items()}
    rebuilt = {n for n in after if after[n][0] != before[n][0]}
    # Every non-unique one was dropped and built again; the unique ones (upsert, duplicates) stayed.
    assert rebuilt == {n for n, (_, unique, _) in before.items() if not unique}
    assert "ix_contacts_search_text" in rebuilt and "uq_calls_twilio_sid" not in rebuilt
    assert await db.fetchval("SELECT count(*) FROM etl_checkpoints WHERE snapshot_id = $1", deferrals.DEFERRED) == 0
    # ... and every loaded table has its statistics (the service and verify plan with them from the start).
    unanalyzed = await db.fetch(
        "SELECT relname FROM pg_stat_user_tables WHERE relname = ANY($1::text[]) AND last_analyze IS NULL",
        [*TABLES, "campaign_contacts", "chat_participants"],
    )
    assert unanalyzed == []

    await load(db, snapshot, restart=True)  # the tables have rows now: their indexes are left alone
    assert await _indexes(db) == after


async def test_a_first_import_counts_contacts_and_calls_for_analytics_once_at_each_stage_end(
    db: asyncpg.Connection, snapshot: Snapshot
) -> None:
    await load(db, snapshot, batch_size=1)  # a batch per document: row by row, each would be counted apart
    rolled, recounted = await rolled_and_recounted(db)
    assert rolled == recounted
    assert sum(figures[0] for figures in rolled.values()) == await db.fetchval("SELECT count(*) FROM calls")
    # One contacts.added per owner for the whole stage, not one per batch; history, not live.
    added = await db.fetch(
        "SELECT a.user_id, (a.data->>'count')::int AS n, a.occurred_at, a.live FROM analytics_activity a "
        "WHERE a.kind = 'contacts.added' ORDER BY 1"
    )
    owners = await db.fetch(
        "SELECT user_id, count(*)::int AS n, max(created_at) AS at FROM contacts "
        "WHERE user_id IS NOT NULL GROUP BY 1 ORDER BY 1"
    )
    assert [tuple(r) for r in added] == [(*tuple(r), False) for r in owners] and owners
    assert await db.fetchval("SELECT count(*) FROM etl_checkpoints WHERE snapshot_id = $1", deferrals.DEFERRED) == 0
    assert await db.fetchval("SELECT current_setting($1, true)", rollups.SETTING) == ""

    # A rerun on tables with rows counts row by row, as the service does: a contact edited since is counted again.
    await db.execute("UPDATE contacts SET created_at = created_at - interval '1 day' WHERE firebase_id = 'contacts/c1'")
    await load(db, snapshot, restart=True)
    rolled, recounted = await rolled_and_recounted(db)
    assert rolled == recounted


async def test_indexes_a_killed_load_left_dropped_are_built_by_the_next_load(
    db: asyncpg.Connection, tmp_path: Path, staging: dict[str, str]
) -> None:
    before = await _indexes(db)
    await indexes.defer(db, "contacts")  # what a load killed during its contacts stage leaves behind
    assert "ix_contacts_search_text" not in await _indexes(db)
    # ... one of them already built again, on the worker's connection, before the kill:
    await db.execute(before["ix_contacts_tags"][2])

    await load(db, Snapshot(write_snapshot(tmp_path / "other", [doc("notifications/n1", title="hi")])), **staging)
    assert {n: d for n, (_, _, d) in (await _indexes(db)).items()} == {n: d for n, (_, _, d) in before.items()}
    assert await db.fetchval("SELECT count(*) FROM etl_checkpoints WHERE snapshot_id = $1", deferrals.DEFERRED) == 0


async def test_dry_run_writes_nothing_but_reports_exactly(db: asyncpg.Connection, snapshot: Snapshot) -> None:
    result = await load(db, snapshot, dry_run=True)
    assert result.stages["contacts"].inserted == 3
    assert await db.fetchval("SELECT count(*) FROM contacts") == 0
    assert await db.fetchval("SELECT count(*) FROM etl_checkpoints") == 0


async def test_schema_drift_a_new_snapshot_updates_in_place(db: asyncpg.Connection, tmp_path: Path) -> None:
    user = AuthUser(uid="u1", email="a@x.io")
    first = write_snapshot(
        tmp_path / "one", [doc("users/u1"), doc("contacts/c1", userId="u1", firstName="Ann")], [user]
    )
    await load(db, Snapshot(first))
    contact_id = await db.fetchval("SELECT id FROM contacts")
    # Later data renamed fields and added new ones.
    second = write_snapshot(
        tmp_path / "two",
        [
            doc("users/u1"),
            doc("contacts/c1", userEmail="a@x.io", fullName="Ann Lee", mood="curious"),
            doc("contacts/c2", userId="u1", firstName="Bo"),
        ],
        [user],
    )
    result = await load(db, Snapshot(second))
    assert (result.stages["contacts"].inserted, result.stages["contacts"].updated) == (1, 1)
    row = await db.fetchrow("SELECT * FROM contacts WHERE firebase_id = 'contacts/c1'")
    assert row["id"] == contact_id
    assert (row["first_name"], row["last_name"]) == ("Ann", "Lee")
    assert row["extra"] == {"fullName": {"stringValue": "Ann Lee"}, "mood": {"stringValue": "curious"}}


async def test_a_row_the_database_refuses_becomes_a_dead_letter(
    db: asyncpg.Connection, tmp_path: Path, staging: dict[str, str]
) -> None:
    # Firestore strings may hold NUL; Postgres text and jsonb cannot. Only that document is rejected.
    snapshot = write_snapshot(
        tmp_path / "s",
        [
            doc("notifications/ok1", title="fine"),
            typed_doc("notifications/bad", {"title": {"stringValue": "nul \u0000 inside"}}),
            doc("notifications/ok2", title="fine too"),
        ],
    )
    result = await load(db, Snapshot(snapshot), **staging)  # its staging COPY fails: written one by one
    assert result.stages["other"].inserted == 2
    assert result.stages["other"].rejected == 1
    reason = await db.fetchval("SELECT reason FROM etl_dead_letters WHERE document_path = 'notifications/bad'")
    assert "refused" in reason
    fixed = write_snapshot(tmp_path / "fixed", [doc("notifications/bad", title="nul removed")])
    await load(db, Snapshot(fixed), **staging)
    assert await db.fetchval("SELECT count(*) FROM etl_dead_letters") == 0  # loaded now: no longer a dead letter


async def test_without_the_privilege_to_skip_key_checks_the_load_keeps_them(
    db: asyncpg.Connection, database_url: str, snapshot: Snapshot
) -> None:
    role = f"etl_plain_{uuid.uuid4().hex[:8]}"
    await db.execute(f"CREATE ROLE {role} LOGIN")
    await db.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}")
    plain = await connect(database_url.replace("postgres:@", f"{role}:@", 1))
    try:
        result = await load(plain, snapshot)
        assert await plain.fetchval("SHOW session_replication_role") == "origin"
    finally:
        await plain.close()
        await db.execute(f"DROP OWNED BY {role}")
        await db.execute(f"DROP ROLE {role}")
    assert result.stages["contacts"].inserted == 3
    assert await db.fetchval("SELECT count(*) FROM contacts WHERE user_id IS NOT NULL") == 2


async def test_a_first_import_inserts_and_a_repeated_one_upserts(db: asyncpg.Connection, snapshot: Snapshot) -> None:
    assert await fresh.decide(db, "contacts", "contacts", 0)  # no rows, no records: plain inserts
    await load(db, snapshot)
    assert await db.fetchval("SELECT count(*) FROM etl_checkpoints WHERE collection LIKE 'fresh:%'") == 0
    assert not await fresh.decide(db, "contacts", "contacts", 0)  # rows now: the upsert
    await db.execute("DELETE FROM contacts")
    assert not await fresh.decide(db, "contacts", "contacts", 0)  # records of the stage remain: still the upsert


async def test_a_fresh_stage_upserts_a_batch_whose_row_exists_after_all(
    db: asyncpg.Connection, tmp_path: Path, staging: dict[str, str]
) -> None:
    # The same path twice (a snapshot should not hold that): the second batch's insert fails, its upsert wins.
    docs = [doc("notifications/n1", title="first"), doc("notifications/n1", title="second")]
    result = await load(db, Snapshot(write_snapshot(tmp_path / "s", docs)), batch_size=1, **staging)
    assert result.stages["other"].inserted == 1 and result.stages["other"].updated == 1
    assert result.stages["other"].rejected == 0
    rows = await db.fetch("SELECT fields FROM firestore_documents")
    assert [r["fields"]["title"] for r in rows] == [{"stringValue": "second"}]


async def test_a_stage_is_finished_beside_the_next_ones_and_a_service_write_queued_meanwhile_lands(
    db: asyncpg.Connection, database_url: str
) -> None:
    """The finisher builds a done stage's indexes on its own connection while the load goes on. A service write
    queued behind that build, and the load's SHARE lock for a later stage queued behind the write, all land:
    none of them waits for the load itself, which a server could not see."""
    await indexes.defer(db, "contacts")
    blocker, service = await connect(database_url), await connect(database_url)
    finisher = Finisher(db, database_url)
    try:
        # A write in flight when the stage ends: the build waits for it, and the others queue in turn.
        await blocker.execute("BEGIN")
        await blocker.execute("INSERT INTO contacts (id, first_name) VALUES ($1, 'Ada')", uuid.uuid4())
        await finisher.stage_done(CONTACTS)
        await asyncio.sleep(0.3)
        write = asyncio.ensure_future(service.execute("UPDATE contacts SET last_name = 'Hopper'"))
        await asyncio.sleep(0.3)
        assert not write.done()
        async with asyncio.timeout(60), db.transaction():  # a deadlock would wait forever: a failure here
            later_stage = asyncio.ensure_future(db.execute("LOCK TABLE contacts IN SHARE MODE"))
            await asyncio.sleep(0.3)
            assert not later_stage.done()
            await blocker.execute("COMMIT")
            await later_stage
        async with asyncio.timeout(60):
            await write
            await finisher.close(all_done=False)
    finally:
        await blocker.close()
        await service.close()
    assert await db.fetchval("SELECT last_name FROM contacts") == "Hopper"
    assert "ix_contacts_search_text" in await _indexes(db) and "ix_contacts_user_id_phone" in await _indexes(db)
    assert await deferrals.recorded(db, "indexes:contacts") is None


async def test_what_a_load_killed_before_finishing_a_done_stage_left_is_finished_by_the_next_load(
    db: asyncpg.Connection, snapshot: Snapshot, staging: dict[str, str]
) -> None:
    await load(db, snapshot, **staging)
    before = await _indexes(db)
    # Killed after the contacts stage committed, before its indexes were built and its analytics counted:
    definition = before["ix_contacts_search_text"][2]
    await db.execute("DROP INDEX ix_contacts_search_text")
    await deferrals.record(db, "indexes:contacts", {"indexes": [definition]})
    await deferrals.record(db, "analytics:contacts", {})
    await db.execute("DELETE FROM analytics_activity WHERE kind = 'contacts.added'")

    result = await load(db, snapshot, **staging)  # every stage is done: only the finishing is left
    assert all(counts.done for counts in result.stages.values())
    assert {n: d for n, (_, _, d) in (await _indexes(db)).items()} == {n: d for n, (_, _, d) in before.items()}
    assert await db.fetchval("SELECT count(*) FROM analytics_activity WHERE kind = 'contacts.added'") > 0
    rolled, recounted = await rolled_and_recounted(db)
    assert rolled == recounted
    assert await db.fetchval("SELECT count(*) FROM etl_checkpoints WHERE snapshot_id = $1", deferrals.DEFERRED) == 0


async def test_a_failed_index_build_fails_the_load_and_keeps_its_record(
    db: asyncpg.Connection, snapshot: Snapshot, staging: dict[str, str]
) -> None:
    bad = {"indexes": ["CREATE INDEX ix_contacts_nothing ON contacts (no_such_column)"]}
    await deferrals.record(db, "indexes:contacts", bad)  # say, a definition the schema has since lost
    with pytest.raises(asyncpg.UndefinedColumnError):
        await load(db, snapshot, **staging)
    assert bad["indexes"][0] in (await deferrals.recorded(db, "indexes:contacts"))["indexes"]
    assert await db.fetchval("SELECT count(*) FROM contacts") == 3  # the rows committed with their stage


async def test_a_batch_ends_early_at_the_membership_cap_and_the_load_keeps_every_member(
    db: asyncpg.Connection, tmp_path: Path, database_url: str
) -> None:
    """Batch size is a number of documents; campaigns with long contactIds lists would make one batch hold
    100k membership rows (50 MB in the worker), so a batch also ends at ``MEMBERS_PER_BATCH`` of them."""
    per_campaign = MEMBERS_PER_BATCH * 2 // 5
    contacts = [doc(f"contacts/c{i}", firstName=f"C{i}") for i in range(per_campaign)]
    ids = [f"c{i}" for i in range(per_campaign)]
    campaigns = [doc(f"campaigns/k{n}", name=f"K{n}", contactIds=ids) for n in range(4)]
    snapshot = Snapshot(write_snapshot(tmp_path / "s", [*contacts, *campaigns]))

    batches = Batches(db, snapshot, 1000, context(snapshot, "US"))
    ends = [batch[0] for batch in batches.prepared(CAMPAIGNS, 0)]
    assert ends == [3, 4]  # 3 campaigns reach the cap (1000 documents would not end the batch)

    result = await load(db, snapshot, batch_size=1000, dsn=database_url)  # the worker: whose memory it is
    assert result.stages["campaigns"].inserted == 4
    assert await db.fetchval("SELECT count(*) FROM campaign_contacts WHERE position IS NOT NULL") == 4 * per_campaign
    positions = await db.fetchval(
        "SELECT array_agg(j.position ORDER BY c.firebase_id) FROM campaign_contacts j "
        "JOIN campaigns k ON k.id = j.campaign_id JOIN contacts c ON c.id = j.contact_id WHERE k.firebase_id = $1",
        "campaigns/k3",
    )
    assert sorted(positions) == list(range(per_campaign))
