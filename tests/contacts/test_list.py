"""GET /api/contacts and /search: newest first, keyset pages, filters, and the trigram-backed search."""

import uuid
from urllib.parse import parse_qs, urlsplit

import pytest


async def insert_contacts(db, owner_id, count, **columns):
    """Rows straight into the table, one second apart (the first is the oldest)."""
    ids = []
    for i in range(count):
        contact_id = uuid.uuid4()
        values = {"first_name": f"F{i}", "phone": f"+1415555{i:04d}", **columns}
        names = ", ".join(values)
        placeholders = ", ".join(f"${n}" for n in range(4, len(values) + 4))
        await db.execute(
            f"INSERT INTO contacts (id, user_id, created_at, {names}) "
            f"VALUES ($1, $2, now() - make_interval(secs => $3), {placeholders})",
            contact_id,
            owner_id,
            float(count - i),
            *values.values(),
        )
        ids.append(str(contact_id))
    return ids


async def test_the_list_is_a_bare_array_newest_first(client, db, owner):
    ids = await insert_contacts(db, owner.id, 3)
    response = await client.get("/api/contacts", headers=owner.headers)
    assert response.status_code == 200
    assert [c["id"] for c in response.json()] == ids[::-1]
    assert "link" not in response.headers
    assert "x-next-cursor" not in response.headers


async def test_pages_follow_the_link_header_to_the_end(client, db, owner):
    ids = await insert_contacts(db, owner.id, 7)
    seen, url = [], "/api/contacts?limit=3&status=new"
    while url:
        response = await client.get(url, headers=owner.headers)
        assert response.status_code == 200
        seen += [c["id"] for c in response.json()]
        link = response.headers.get("link")
        if link is None:
            break
        assert link.endswith('>; rel="next"')
        url = link[1 : link.index(">")]
        query = parse_qs(urlsplit(url).query)
        assert query["cursor"] == [response.headers["x-next-cursor"]]
        assert query["status"] == ["new"]
    assert seen == ids[::-1]


async def test_rows_added_while_paging_do_not_shift_pages(client, db, owner):
    ids = await insert_contacts(db, owner.id, 4)
    first = await client.get("/api/contacts?limit=2", headers=owner.headers)
    await insert_contacts(db, owner.id, 1, first_name="Newcomer")
    cursor = first.headers["x-next-cursor"]
    second = await client.get(f"/api/contacts?limit=2&cursor={cursor}", headers=owner.headers)
    assert [c["id"] for c in second.json()] == [ids[1], ids[0]]


@pytest.mark.parametrize("query", ["limit=0", "limit=1001", "limit=ten", "cursor=%%%", "cursor=AAAA", "status=hot"])
async def test_bad_list_parameters_are_400(client, owner, query):
    response = await client.get(f"/api/contacts?{query}", headers=owner.headers)
    assert response.status_code == 400
    assert response.json()["details"][0]["field"] in query


async def test_limit_defaults_to_100(client, db, owner):
    await db.execute(
        "INSERT INTO contacts (user_id, first_name) SELECT $1, 'n' || i FROM generate_series(1, 101) i", owner.id
    )
    response = await client.get("/api/contacts", headers=owner.headers)
    assert len(response.json()) == 100
    assert "x-next-cursor" in response.headers


async def test_filters_by_status_and_tag(client, db, owner):
    [hot] = await insert_contacts(db, owner.id, 1, status="interested", tags=["vip", "west"])
    await insert_contacts(db, owner.id, 2, tags=["west"])
    by_status = await client.get("/api/contacts?status=interested", headers=owner.headers)
    by_tag = await client.get("/api/contacts?tag=vip", headers=owner.headers)
    by_other_tag = await client.get("/api/contacts?tag=west", headers=owner.headers)
    assert [c["id"] for c in by_status.json()] == [hot]
    assert [c["id"] for c in by_tag.json()] == [hot]
    assert len(by_other_tag.json()) == 3


async def test_filters_by_campaign(client, db, owner):
    member, _ = await insert_contacts(db, owner.id, 2)
    campaign = await client.post(
        "/api/campaigns", json={"name": "Spring", "contactIds": [member]}, headers=owner.headers
    )
    response = await client.get(f"/api/contacts?campaignId={campaign.json()['id']}", headers=owner.headers)
    assert [c["id"] for c in response.json()] == [member]
    unknown = await client.get(f"/api/contacts?campaignId={uuid.uuid4()}", headers=owner.headers)
    assert unknown.status_code == 404


SEARCHES = {
    "lovelace": ["Ada"],
    "LOVE": ["Ada"],
    "ren": ["Ada", "René"],  # "Acme Rennes Corp" and "René"
    "rene": ["René"],
    "RENÉ": ["René"],
    "example.org": ["René"],
    "5550100": ["Ada"],
    "acme": ["Ada"],
    "100%": ["Percent"],  # the query's wildcards match only themselves
    "a_b": ["Underscore"],
    "nobody": [],
}


async def test_search_is_partial_and_ignores_case_and_accents(client, db, owner):
    await insert_contacts(
        db, owner.id, 1, first_name="Ada", last_name="Lovelace", company="Acme Rennes Corp", phone="+14155550100"
    )
    await insert_contacts(db, owner.id, 1, first_name="René", email="rene@example.org", phone="+33123456789")
    await insert_contacts(db, owner.id, 1, first_name="Percent", company="100% Juice", phone="+14155550101")
    await insert_contacts(db, owner.id, 1, first_name="Underscore", email="a_b@example.com", phone="+14155550102")
    await insert_contacts(db, owner.id, 1, first_name="Wildcard", email="axb@example.com", phone="+14155550103")
    for q, expected in SEARCHES.items():
        response = await client.get("/api/contacts/search", params={"q": q}, headers=owner.headers)
        assert response.status_code == 200
        assert sorted(c["firstName"] for c in response.json()) == sorted(expected), q


async def test_search_needs_a_query(client, owner):
    response = await client.get("/api/contacts/search?q=%20", headers=owner.headers)
    assert response.status_code == 400
    assert response.json()["details"][0]["field"] == "q"


async def test_search_uses_the_trigram_index(db):
    await db.execute("SET enable_seqscan = off")
    plan = "\n".join(
        r[0]
        for r in await db.fetch(
            "EXPLAIN SELECT id FROM contacts WHERE search_text LIKE '%' || ri_search_text('lovelace'::text) || '%'"
        )
    )
    assert "ix_contacts_search_text" in plan
