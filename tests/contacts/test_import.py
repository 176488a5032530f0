"""POST /api/contacts/import: CSV files as spreadsheets and CRMs export them."""

import codecs
import gc
import sys


async def upload(client, owner, data: bytes, query=""):
    files = {"file": ("contacts.csv", data, "text/csv")}
    return await client.post(f"/api/contacts/import{query}", files=files, headers=owner.headers)


async def rows(db, owner):
    return await db.fetch(
        "SELECT first_name, last_name, phone, email, company, tags, notes FROM contacts WHERE user_id = $1 "
        "ORDER BY first_name",
        owner.id,
    )


async def test_utf8_with_bom_commas_quotes_and_common_headers(client, db, owner):
    csv = (
        "First Name,Last Name,Phone Number,E-mail,Company,Notes\r\n"
        'Ada,Lovelace,(415) 555-0100,ADA@example.com,"Engines, Ltd","two\r\nlines"\r\n'
        "\r\n"
        "Grace,Hopper,+1 202 555 0123,grace@example.com,Navy,\r\n"
    )
    response = await upload(client, owner, codecs.BOM_UTF8 + csv.encode())
    assert response.status_code == 201, response.text
    assert response.json() == {"inserted": 2, "duplicates": 0, "rejected": [], "rejectedCount": 0}
    ada, grace = await rows(db, owner)
    assert tuple(ada) == ("Ada", "Lovelace", "+14155550100", "ada@example.com", "Engines, Ltd", [], "two\r\nlines")
    assert tuple(grace)[:5] == ("Grace", "Hopper", "+12025550123", "grace@example.com", "Navy")


async def test_semicolons_full_names_tags_and_status_words(client, db, owner):
    csv = (
        "Name;Mobile;Email Address;Company Name;Tags;Lead Status\n"
        "René Descartes;+33 1 23 45 67 89;;Cogito;vip, eu;Not Interested\n"
    )
    response = await upload(client, owner, csv.encode())
    assert response.json()["inserted"] == 1
    row = await db.fetchrow("SELECT first_name, last_name, phone, company, tags, status FROM contacts")
    assert tuple(row) == ("René", "Descartes", "+33123456789", "Cogito", ["vip", "eu"], "not_interested")


async def test_windows_1252_files_are_read(client, db, owner):
    response = await upload(client, owner, "First Name,Phone\nJosé,4155550100\n".encode("cp1252"))
    assert response.json()["inserted"] == 1
    assert await db.fetchval("SELECT first_name FROM contacts") == "José"


async def test_a_bad_row_rejects_the_file_unless_partial(client, db, owner):
    csv = b"First Name,Phone\nAda,4155550100\nBad,123\nGrace,2025550123\n"
    response = await upload(client, owner, csv)
    assert response.status_code == 400
    assert response.json()["details"] == [
        {"field": "rows[1]", "message": "phone: '123' is not a complete phone number"}
    ]
    assert await db.fetchval("SELECT count(*) FROM contacts") == 0

    response = await upload(client, owner, csv, "?partial=true")
    assert response.status_code == 201
    assert response.json()["inserted"] == 2
    assert response.json()["rejected"] == [{"index": 1, "reason": "phone: '123' is not a complete phone number"}]


async def test_duplicates_in_the_file_and_the_owners_contacts(client, db, owner, create_contact):
    await create_contact(phone="+14155550100")
    csv = b"Phone,Email\n4155550100,a@example.com\n4155550101,b@example.com\n4155550102,B@example.com\n"
    response = await upload(client, owner, csv)
    assert response.json() == {"inserted": 1, "duplicates": 2, "rejected": [], "rejectedCount": 0}


async def test_a_file_without_known_columns_is_400(client, db, owner):
    response = await upload(client, owner, b"foo,bar\n1,2\n")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_csv"
    assert "foo, bar" in response.json()["message"]


async def test_the_raw_body_may_be_the_csv(client, db, owner):
    response = await client.post(
        "/api/contacts/import",
        content=b"email\nraw@example.com\n",
        headers={**owner.headers, "Content-Type": "text/csv"},
    )
    assert response.status_code == 201
    assert response.json()["inserted"] == 1


async def test_other_media_types_are_415(client, owner):
    response = await client.post("/api/contacts/import", json={"contacts": []}, headers=owner.headers)
    assert response.status_code == 415


async def test_a_form_without_a_file_is_400(client, owner):
    response = await client.post("/api/contacts/import", data={"note": "x"}, files={}, headers=owner.headers)
    assert response.status_code in (400, 415)


async def test_files_beyond_the_default_body_limit_are_accepted(client, db, owner):
    notes = "x" * 1000
    csv = "email,notes\n" + "".join(f"p{i}@example.com,{notes}\n" for i in range(2000))
    assert len(csv) > 1024 * 1024  # the app-wide limit
    response = await upload(client, owner, csv.encode())
    assert response.status_code == 201
    assert response.json()["inserted"] == 2000


async def test_a_file_that_does_not_decode_is_400(client, db, owner):
    response = await upload(client, owner, codecs.BOM_UTF16_LE + "email\n".encode("utf-16-le") + b"\x00")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_csv"


async def test_files_over_50_mb_are_413_and_write_nothing(client, db, owner):
    line = "p{}@example.com," + "x" * 1000 + "\n"
    csv = ("email,notes\n" + "".join(line.format(i) for i in range(52_000))).encode()
    assert len(csv) > 50 * 1024 * 1024
    response = await upload(client, owner, csv)
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert await db.fetchval("SELECT count(*) FROM contacts WHERE user_id = $1", owner.id) == 0


async def test_a_failed_import_closes_its_reader_while_the_file_is_open(client, db, owner):
    """The database refuses the write while the CSV reader is suspended: the reader is closed at once, not
    left to the garbage collector (which used to print "Exception ignored in generator read_batches")."""
    await db.execute(
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$;"
        "CREATE TRIGGER refuse BEFORE INSERT ON contacts FOR EACH ROW EXECUTE FUNCTION refuse()"
    )
    unraisable = []
    previous, sys.unraisablehook = sys.unraisablehook, unraisable.append
    try:
        response = await upload(client, owner, b"Name,Phone\nAda Lovelace,+14155550100\n")
        gc.collect()
    finally:
        sys.unraisablehook = previous
    assert response.status_code == 500
    assert response.json()["message"] == "Internal server error"
    assert unraisable == []
    assert await db.fetchval("SELECT count(*) FROM contacts") == 0
