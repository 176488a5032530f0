"""A `tz` or `timezone` that is no IANA name is a 400 naming the field, whatever its length or shape.

ZoneInfo opens a file named after its argument: a name longer than the file system allows raised OSError (a 500
before service/timezones.py), a path-like one ValueError.
"""

from __future__ import annotations

import pytest

ODD_NAMES = ["a" * 300, "Europe/" + "x" * 5000, "../../etc/passwd", "/etc/passwd", "America/", "."]


@pytest.mark.parametrize("name", ODD_NAMES)
async def test_analytics_refuses_a_tz_that_is_no_zone(client, make_user, name):
    user = await make_user()
    for path in ("/api/analytics/overview", "/api/analytics/series", "/api/analytics/export"):
        response = await client.get(path, params={"tz": name}, headers=user.headers)
        assert response.status_code == 400, (path, response.text)
        assert response.json()["details"] == [{"field": "tz", "message": "is not an IANA time zone"}]


@pytest.mark.parametrize("name", ODD_NAMES)
async def test_contacts_refuse_a_timezone_that_is_no_zone(client, make_user, name):
    user = await make_user()
    response = await client.post("/api/contacts", json={"firstName": "Ada", "timezone": name}, headers=user.headers)
    assert response.status_code == 400, response.text
    assert response.json()["details"][0]["field"] == "timezone"


async def test_a_real_zone_is_accepted(client, make_user):
    user = await make_user()
    response = await client.get("/api/analytics/overview", params={"tz": "Asia/Kathmandu"}, headers=user.headers)
    assert response.status_code == 200, response.text
