"""Export: rows back to Firestore documents; snapshot -> load -> export -> load gives the same rows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from etl.export import export_snapshot
from etl.load.loader import load
from etl.snapshot import Snapshot
from service.db.pool import connect
from tests.etl.helpers import (
    IMPORTED_TABLES,
    dump,
    reachimpact_documents,
    reachimpact_users,
    write_snapshot,
)


@pytest.fixture
async def second_db(second_database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await connect(second_database_url)
    yield connection
    await connection.close()


async def test_round_trip_gives_identical_rows(
    db: asyncpg.Connection, second_db: asyncpg.Connection, tmp_path: Path
) -> None:
    source = Snapshot(write_snapshot(tmp_path / "source", reachimpact_documents(), reachimpact_users()))
    await load(db, source)
    await export_snapshot(db, tmp_path / "exported")
    exported = Snapshot(tmp_path / "exported")

    await load(second_db, exported)
    first, second = await dump(db), await dump(second_db)
    for table in IMPORTED_TABLES:
        assert second[table] == first[table], table

    again = await load(db, exported)  # into the database it came from: nothing to change
    assert all(c.inserted == c.updated == 0 for c in again.stages.values())
    assert await dump(db) == first


async def test_exported_documents_keep_paths_types_and_raw_values(db: asyncpg.Connection, tmp_path: Path) -> None:
    await load(db, Snapshot(write_snapshot(tmp_path / "source", reachimpact_documents(), reachimpact_users())))
    await export_snapshot(db, tmp_path / "out")
    exported = Snapshot(tmp_path / "out")
    docs = {d.path: d.fields for d in exported.iter_documents()}
    assert docs["contacts/c2"]["phone"] == {"stringValue": "not a phone"}  # phoneRaw goes back to phone
    assert docs["contacts/c3"]["userId"] == {"stringValue": "ghost"}  # the orphaned link comes back
    assert docs["contacts/c1"]["userId"] == {"stringValue": "u1"}
    assert docs["calls/x2"]["big"] == {"integerValue": str(2**60)}
    assert docs["notifications/n1"]["nan"] == {"doubleValue": "NaN"}
    assert docs["notifications/n1"]["payload"] == {"bytesValue": "AAE="}
    assert docs["campaigns/k1"]["contactIds"]["arrayValue"]["values"] == [
        {"stringValue": "c1"},
        {"stringValue": "c2"},
        {"stringValue": "missing"},
    ]
    assert "channels/lost/messages/m2" in docs
    users = {u.uid: u for u in exported.iter_auth_users()}
    assert users["u1"].password_hash == "aGFzaA==" and users["u1"].salt == "c2FsdA=="
    assert "carol-uid" in users and "users/auto9" in docs  # a profile joined by e-mail keeps uid and path


async def test_rows_the_service_created_get_a_path(db: asyncpg.Connection, tmp_path: Path) -> None:
    user_id = await db.fetchval("INSERT INTO users (id, email) VALUES (gen_random_uuid(), 'new@x.io') RETURNING id")
    await db.execute("INSERT INTO contacts (id, user_id, first_name) VALUES (gen_random_uuid(), $1, 'Native')", user_id)
    await export_snapshot(db, tmp_path / "out")
    docs = list(Snapshot(tmp_path / "out").iter_documents())
    contact = next(d for d in docs if d.path.startswith("contacts/"))
    assert contact.fields["userId"] == {"stringValue": str(user_id)}
    assert contact.fields["firstName"] == {"stringValue": "Native"}
