"""Shared by the transform/load/verify/export tests: small snapshots written in code, table dumps."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import asyncpg

from etl.snapshot import AuthUser, Document, SnapshotWriter
from etl.values import encode_python

IMPORTED_TABLES = (
    "users",
    "contacts",
    "campaigns",
    "campaign_contacts",
    "calls",
    "chat_rooms",
    "chat_participants",
    "chat_messages",
    "firestore_documents",
)


def doc(path: str, create_time: str | None = None, **fields: Any) -> Document:
    """A document with plain Python field values (typed as the live source would type them)."""
    return Document(path=path, fields={k: encode_python(v) for k, v in fields.items()}, create_time=create_time)


def typed_doc(path: str, fields: dict[str, Any]) -> Document:
    return Document(path=path, fields=fields)


def write_snapshot(directory: Path, documents: Iterable[Document], users: Iterable[AuthUser] = ()) -> Path:
    with SnapshotWriter(directory, sources=["test"], project_id="demo-test") as writer:
        writer.read_time = "2024-05-01T12:00:00Z"
        for user in users:
            writer.write_auth_user(user, unit="auth", cursor=None)
        for document in documents:
            writer.write_document(document, unit="docs", cursor=None)
        writer.finish()
    return directory


async def dump(db: asyncpg.Connection) -> dict[str, list[tuple]]:
    """Every imported table, and the dead letters, in a stable order: for comparing two databases."""
    out: dict[str, list[tuple]] = {}
    for table in IMPORTED_TABLES:
        columns = [
            r["attname"]
            for r in await db.fetch(
                "SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 "
                "AND NOT attisdropped ORDER BY attnum",
                table,
            )
        ]
        rows = await db.fetch(f"SELECT {', '.join(columns)} FROM {table} ORDER BY 1, 2")
        out[table] = [tuple(r) for r in rows]
    out["etl_dead_letters"] = [
        tuple(r)
        for r in await db.fetch(
            "SELECT id, collection, document_path, reason, document FROM etl_dead_letters ORDER BY 2, 3"
        )
    ]
    return out


def reachimpact_documents() -> list[Document]:
    """A small ReachImpact-shaped data set with the awkward cases the import must handle."""
    return [
        doc(
            "users/u1", fullName="Ada Lovelace", companyName="Engines", credits=40, role="admin", favouriteColour="blue"
        ),
        doc("users/u2", displayName="Bob", company="Bobco", aiCredits=7, phoneNumber="+1 415 555 0101"),
        doc("users/auto9", email="CAROL@example.com", fullName="Carol"),
        doc("users/nomail", fullName="No Mail"),
        doc(
            "contacts/c1",
            userId="u1",
            firstName="Grace",
            lastName="Hopper",
            phone="(415) 555-0100",
            tags=["vip"],
            status="Interested",
            createdAt=1_700_000_000_123,
        ),
        doc(
            "contacts/c2",
            userEmail="bob@example.com",
            fullName="Alan Turing",
            phoneNumber="not a phone",
            createdAt="2024-01-02T03:04:05.123456789Z",
        ),
        doc("contacts/c3", userId="ghost", firstName="Orphan", company="Nowhere"),
        doc(
            "campaigns/k1",
            userId="u1",
            name="Spring",
            contactIds=["c1", "c2", "missing"],
            status="running",
            startDate="2024-03-01T00:00:00Z",
        ),
        doc(
            "calls/x1",
            userId="u1",
            contactId="c1",
            campaignId="k1",
            twilioSid="CA1",
            status="completed",
            duration="42",
            sentiment="positive",
            transcription="hello",
        ),
        doc(
            "calls/x2",
            userId="u2",
            contactId="gone",
            twilioSid="CA2",
            sentiment={"score": 0.8, "label": "good"},
            duration=12,
            big=2**60,
        ),
        doc("calls/x3", userId="u2", twilioSid="CA1", status="busy"),
        doc("channels/ch1", name="General", createdBy="u1", members=["u1", "u2", "nobody"]),
        doc("channels/ch1/messages/m1", text="hi", senderId="u1"),
        doc("channels/lost/messages/m2", text="parent never existed", senderId="u2"),
        doc("messages/d1", text="direct", senderId="u1", receiverId="u2", read=False),
        doc("notifications/n1", title="Welcome", payload=b"\x00\x01", nan=float("nan")),
        doc("users/u1/settings/s1", theme="dark"),
    ]


def reachimpact_users() -> list[AuthUser]:
    return [
        AuthUser(
            uid="u1",
            email="ada@example.com",
            email_verified=True,
            providers=["password"],
            created_at=1_600_000_000_000,
            last_signed_in_at=1_700_000_000_000,
            password_hash="aGFzaA==",
            salt="c2FsdA==",
        ),
        AuthUser(uid="u2", email="Bob@Example.com", providers=["google.com"], created_at=1_600_000_000_500),
        AuthUser(uid="carol-uid", email="carol@example.com", password_hash="aGFzaDI=", salt="c2FsdDI="),
        AuthUser(uid="u4", email="dave@example.com", display_name="Dave Auth-only", disabled=True),
        AuthUser(uid="phone-only", phone_number="+14155550199"),
    ]
