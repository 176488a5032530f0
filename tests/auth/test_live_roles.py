"""A role change takes effect at once, like a revocation: the same token loses (or gains) admin rights."""

from __future__ import annotations

SET_ROLE = "UPDATE users SET role = $2 WHERE id = $1"


async def test_a_demoted_administrators_token_loses_admin_rights_at_once(client, db, make_user):
    admin = await make_user(role="admin")
    assert (await client.get("/api/admin/users", headers=admin.headers)).status_code == 200
    await db.execute(SET_ROLE, admin.id, "customer")
    refused = await client.get("/api/admin/users", headers=admin.headers)
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"
    assert (await client.get("/api/admin/analytics/overview", headers=admin.headers)).status_code == 403
    # Everything that asks "is this an administrator?" sees it, not only the admin routes.
    grant = await client.post("/api/user/credits", json={"amount": 5}, headers=admin.headers)
    assert grant.status_code == 403
    # The token itself still works for what a customer may do.
    assert (await client.get("/api/user/credits", headers=admin.headers)).status_code == 200


async def test_a_promoted_users_token_gains_the_admin_routes_at_once(client, db, make_user):
    user = await make_user()
    assert (await client.get("/api/admin/users", headers=user.headers)).status_code == 403
    await db.execute(SET_ROLE, user.id, "admin")
    assert (await client.get("/api/admin/users", headers=user.headers)).status_code == 200


async def test_a_disabled_administrators_token_is_refused(client, db, make_user):
    admin = await make_user(role="admin")
    await db.execute("UPDATE users SET disabled = true WHERE id = $1", admin.id)
    refused = await client.get("/api/admin/users", headers=admin.headers)
    assert refused.status_code == 401
    assert refused.json()["code"] == "invalid_token"
