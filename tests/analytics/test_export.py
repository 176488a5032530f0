"""The CSV export: every call of the period, the caller's only, streamed, formulas defused."""

from __future__ import annotations

import csv
import io
from datetime import datetime

import pytest

from service.analytics.export import HEADER
from service.analytics.service import EXPORT_BATCH

ROWS = 12_345  # several batches of the server-side cursor, and a last partial one


async def test_the_export_streams_every_call_of_the_period_with_formulas_defused(client, db, make_user):
    owner, stranger = await make_user(), await make_user()
    contact = await db.fetchval(
        """INSERT INTO contacts (id, user_id, first_name, last_name, phone)
           VALUES (gen_random_uuid(), $1, '=HYPERLINK("http://x")', 'Lovelace', '+14155550100') RETURNING id""",
        owner.id,
    )
    campaign = await db.fetchval(
        "INSERT INTO campaigns (id, user_id, name) VALUES (gen_random_uuid(), $1, '@SUM(A1)') RETURNING id", owner.id
    )
    await db.execute(
        """INSERT INTO calls (id, user_id, contact_id, campaign_id, status, outcome, duration_seconds, phone_number,
                              notes, created_at)
           SELECT gen_random_uuid(), $1, $2, $3, 'completed', 'appointment_set', n, '+14155550100',
                  CASE WHEN n = 1 THEN E'-2+3\\tnote, "quoted"\\nsecond line' END,
                  timestamptz '2026-03-01T00:00:00Z' + n * interval '1 second'
           FROM generate_series(1, $4) n""",
        owner.id,
        contact,
        campaign,
        ROWS,
    )
    for user, at in ((stranger.id, "2026-03-01T10:00:00Z"), (owner.id, "2026-02-28T22:59:59Z")):
        await db.execute(
            "INSERT INTO calls (id, user_id, status, created_at) VALUES (gen_random_uuid(), $1, 'failed', $2)",
            user,
            datetime.fromisoformat(at),
        )

    response = await client.get(
        "/api/analytics/export?from=2026-03-01&to=2026-03-02&tz=Europe/Amsterdam", headers=owner.headers
    )

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == 'attachment; filename="calls-2026-03-01-2026-03-02.csv"'
    assert response.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))
    assert rows[0] == list(HEADER)
    assert len(rows) == 1 + ROWS > 1 + 2 * EXPORT_BATCH
    first = dict(zip(HEADER, rows[1], strict=True))
    assert first == {
        **first,
        "createdAt": "2026-03-01T01:00:01+01:00",
        "status": "completed",
        "outcome": "appointment_set",
        "durationSeconds": "1",
        "phoneNumber": "'+14155550100",
        "contactId": str(contact),
        "contactName": '\'=HYPERLINK("http://x") Lovelace',
        "campaignId": str(campaign),
        "campaignName": "'@SUM(A1)",
        "notes": '\'-2+3\tnote, "quoted"\nsecond line',
        "startedAt": "",
    }
    assert [r[7] for r in rows[1:4]] == ["1", "2", "3"]  # oldest first
    assert rows[-1][7] == str(ROWS)
    assert len({r[0] for r in rows[1:]}) == ROWS


@pytest.mark.parametrize(
    ("query", "status"),
    [("tz=Nowhere/Land", 400), ("from=2026-03-02&to=2026-03-01", 400), ("from=2024-01-01&to=2026-01-01", 400)],
)
async def test_a_bad_export_request_is_refused_before_any_csv(client, make_user, query, status):
    user = await make_user()
    response = await client.get(f"/api/analytics/export?{query}", headers=user.headers)
    assert response.status_code == status
    assert response.json()["code"] == "validation_error"


async def test_another_users_campaign_cannot_be_exported(client, db, make_user):
    owner, intruder = await make_user(), await make_user()
    campaign = await db.fetchval(
        "INSERT INTO campaigns (id, user_id, name) VALUES (gen_random_uuid(), $1, 'C') RETURNING id", owner.id
    )
    response = await client.get(f"/api/analytics/export?campaignId={campaign}", headers=intruder.headers)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
