"""Every SPA call to a route that exists: what the client module sends, and the fields its consumer reads.

Each test names the SPA file that sends the request and the one that reads the answer.
"""

from __future__ import annotations

import uuid

from tests.contract.conftest import PASSWORD, SAME_ORIGIN, register_form

USER_FIELDS_READ = {"id", "email", "fullName", "aiCredits", "role", "createdAt", "profilePicture"}
CONTACT_FIELDS_READ = {"id", "fullName", "companyName", "phoneNumber", "email", "industry", "status"}
CAMPAIGN_FIELDS_READ = {
    "id", "name", "industry", "status", "description", "script", "createdAt",
    "totalContacts", "callsMade", "appointmentsSet", "conversionRate",
    "language", "translationEnabled", "responseLanguage",
}  # fmt: skip


# --- auth: contexts/NewAuthContext.tsx (axios) and contexts/AuthContext.tsx (fetch) -----------------------------


async def test_register_answers_the_user_at_the_top_level_with_every_field_stored(client, db):
    """api-adapter.ts authAPI.register; NewAuthContext keeps the body as the user (toast reads fullName)."""
    email = f"new-{uuid.uuid4().hex[:8]}@example.com"
    response = await client.post("/api/auth/register", json=register_form(email))
    assert response.status_code == 201
    body = response.json()
    assert set(body) >= USER_FIELDS_READ and body["token"] and body["expiresIn"] and body["csrfToken"]
    assert (body["email"], body["fullName"], body["aiCredits"]) == (email, "Ada Lovelace", 50)
    assert (body["phoneNumber"], body["industry"], body["companyDescription"]) == (
        "+14155550123", "Computing", "Engines that compute",
    )  # fmt: skip
    row = await db.fetchrow("SELECT phone, industry, preferred_language, company_description FROM users")
    assert tuple(row) == ("+14155550123", "Computing", "en", "Engines that compute")


async def test_login_answers_the_user_and_token(spa):
    """api-adapter.ts authAPI.login stores `token`; NewAuthContext's toast reads `userData.fullName`."""
    response = await spa.client.post("/api/auth/login", json={"email": spa.user["email"], "password": PASSWORD})
    assert response.status_code == 200
    assert response.json()["token"] and response.json()["fullName"] == "Ada Lovelace"


async def test_verify_answers_the_user_itself(spa):
    """api-adapter.ts authAPI.getCurrentUser -> NewAuthContext `user` (Sidebar/Header read fullName, aiCredits)."""
    response = await spa.axios("GET", "/auth/verify")
    assert response.status_code == 200
    assert set(response.json()) >= USER_FIELDS_READ and response.json()["id"] == spa.user["id"]


async def test_the_old_auth_context_checks_the_session_with_the_cookie(spa):
    """contexts/AuthContext.tsx: fetch GET /api/user/profile with cookies only; it keeps the body as the user."""
    response = await spa.fetch("GET", "/api/user/profile")
    assert response.status_code == 200 and set(response.json()) >= USER_FIELDS_READ


async def test_logout_with_the_bearer_token_ends_the_session(spa):
    """api-adapter.ts authAPI.logout: axios POST /auth/logout with no body."""
    assert (await spa.axios("POST", "/auth/logout")).status_code == 204
    assert (await spa.axios("GET", "/auth/verify")).status_code == 401


# --- profile, settings, credits: pages/profile.tsx, pages/settings.tsx, pages/billing.tsx ---------------------


async def test_profile_put_from_the_profile_page(spa):
    """pages/profile.tsx sends its whole form (fetch PUT); NewAuthContext.updateProfile keeps the answer as user."""
    form = {
        "fullName": "Ada King", "companyName": "Engines", "phoneNumber": "+442079460958", "industry": "Maths",
        "preferredLanguage": "fr", "companyDescription": "", "companyWebsite": "https://engines.example",
        "productsServices": "Engines", "targetMarket": "Scientists", "salesPitch": "It computes",
    }  # fmt: skip
    response = await spa.fetch("PUT", "/api/user/profile", form)
    assert response.status_code == 200
    assert {k: response.json()[k] for k in form} == form
    again = await spa.axios("GET", "/user/profile")
    assert again.json()["preferredLanguage"] == "fr" and again.json()["email"] == spa.user["email"]


async def test_profile_put_sends_only_some_fields(spa):
    """NewAuthContext.updateProfile(Partial<User>): a partial object changes only what it holds."""
    response = await spa.axios("PUT", "/user/profile", {"industry": "Retail"})
    assert (response.json()["industry"], response.json()["companyName"]) == ("Retail", "Analytical Engines")


async def test_settings_page_saves_general_and_security_settings(spa):
    """pages/settings.tsx: fetch PUT /api/user/settings, then `.json()`; two separate saves merge."""
    general = {
        "notifications": {"email": True, "sms": False, "appointments": True, "campaigns": False},
        "uiLanguage": "nl",
        "theme": "dark",
    }
    first = await spa.fetch("PUT", "/api/user/settings", general)
    assert first.status_code == 200 and first.json() == general
    second = await spa.fetch("PUT", "/api/user/settings", {"security": {"twoFactorEnabled": False}})
    assert second.json() == general | {"security": {"twoFactorEnabled": False}}
    assert (await spa.axios("GET", "/user/settings")).json() == second.json()


async def test_settings_refuse_two_factor_it_cannot_keep(spa):
    response = await spa.fetch("PUT", "/api/user/settings", {"security": {"twoFactorEnabled": True}})
    assert response.status_code == 400 and "twoFactorEnabled" in response.json()["message"]
    assert (await spa.axios("GET", "/user/settings")).json() == {}


async def test_credits(spa):
    """api-adapter.ts userAPI.getCredits; pages/billing.tsx and dashboard.tsx read `user.aiCredits`."""
    response = await spa.axios("GET", "/user/credits")
    assert response.status_code == 200 and response.json()["credits"] == 50
    assert response.json()["history"][0]["delta"] == 50


# --- contacts: pages/contacts.tsx, components/contacts/ContactUpload.tsx, api-adapter.ts contactsAPI --------------


async def create_contact(spa, **fields) -> dict:
    body = {"fullName": "Grace Hopper", "phoneNumber": "+14155550100", "companyName": "Navy", **fields}
    response = await spa.axios("POST", "/contacts", body)
    assert response.status_code == 201, response.text
    return response.json()


async def test_contacts_list_has_the_fields_the_table_reads(spa):
    """pages/contacts.tsx useQuery(['/api/contacts']) (fetch, cookies) renders these fields."""
    await create_contact(spa, email="grace@example.com", industry="Navy")
    response = await spa.fetch("GET", "/api/contacts")
    assert response.status_code == 200
    (contact,) = response.json()
    assert set(contact) >= CONTACT_FIELDS_READ
    assert (contact["fullName"], contact["companyName"], contact["phoneNumber"]) == (
        "Grace Hopper", "Navy", "+14155550100",
    )  # fmt: skip


async def test_contact_get_update_search_delete_through_axios(spa):
    """api-adapter.ts contactsAPI.getById, update (a partial object), search, delete (returns response.data)."""
    contact = await create_contact(spa)
    path = f"/contacts/{contact['id']}"
    assert (await spa.axios("GET", path)).json()["fullName"] == "Grace Hopper"
    updated = await spa.axios("PUT", path, {"status": "interested"})
    assert (updated.json()["status"], updated.json()["phoneNumber"]) == ("interested", "+14155550100")
    assert [c["id"] for c in (await spa.axios("GET", "/contacts/search?q=hopper")).json()] == [contact["id"]]
    deleted = await spa.axios("DELETE", path)
    assert deleted.status_code == 200 and deleted.json()["id"] == contact["id"]


async def test_the_contacts_page_deletes_with_the_cookie_and_reads_json(spa):
    """pages/contacts.tsx: apiRequest("DELETE", ...) then `.json()`."""
    contact = await create_contact(spa)
    response = await spa.fetch("DELETE", f"/api/contacts/{contact['id']}")
    assert response.status_code == 200 and response.json()["deleted"] is True


async def test_contact_upload_posts_a_bare_array(spa, db):
    """components/contacts/ContactUpload.tsx: apiRequest("POST", "/api/contacts/bulk", contacts)."""
    rows = [{"fullName": "A One", "phoneNumber": "+14155550101"}, {"fullName": "B Two", "email": "b@example.com"}]
    response = await spa.fetch("POST", "/api/contacts/bulk", rows)
    assert response.status_code == 201 and response.json()["inserted"] == 2
    assert await db.fetchval("SELECT count(*) FROM contacts") == 2


async def test_contacts_api_bulk_import_wraps_the_array(spa):
    """api-adapter.ts contactsAPI.bulkImport posts {contacts}."""
    response = await spa.axios(
        "POST", "/contacts/bulk", {"contacts": [{"fullName": "C", "phoneNumber": "+14155550102"}]}
    )
    assert response.status_code == 201 and response.json()["inserted"] == 1


# --- campaigns: components/campaigns/CampaignForm.tsx, pages/campaigns*.tsx, dashboard/CampaignTable.tsx -------


def campaign_form(**fields) -> dict:
    """CampaignForm's values as it submits them (its contact picker never fills selectedContactIds)."""
    return {
        "name": "Spring", "industry": "Retail", "status": "active", "description": "", "script": "",
        "language": "en", "translationEnabled": False, "responseLanguage": "", "selectedContactIds": [], **fields,
    }  # fmt: skip


async def test_campaign_form_as_sent_answers_a_4xx_that_says_what_to_fix(spa, db):
    """CampaignForm sends status 'active' with no script and no contacts: it cannot start, nothing is written."""
    response = await spa.fetch("POST", "/api/campaigns", campaign_form())
    assert response.status_code == 409
    assert "script" in response.json()["message"] and "draft" in response.json()["message"]
    assert await db.fetchval("SELECT count(*) FROM campaigns") == 0


async def test_campaign_form_with_a_script_and_contacts_creates_an_active_campaign(spa):
    contact = await create_contact(spa)
    form = campaign_form(script="Hello", selectedContactIds=[contact["id"]])
    response = await spa.fetch("POST", "/api/campaigns", form)
    assert response.status_code == 201
    campaign = response.json()
    assert set(campaign) >= CAMPAIGN_FIELDS_READ
    assert (campaign["status"], campaign["totalContacts"], campaign["contactIds"]) == ("active", 1, [contact["id"]])


async def test_campaign_pages_read_update_and_delete(spa):
    """pages/campaigns.tsx + dashboard/CampaignTable.tsx list; pages/campaigns/[id].tsx PUT {status} and DELETE."""
    created = (await spa.fetch("POST", "/api/campaigns", campaign_form(status="draft", script="Hi"))).json()
    (listed,) = (await spa.fetch("GET", "/api/campaigns")).json()
    assert set(listed) >= CAMPAIGN_FIELDS_READ and listed["conversionRate"] == 0.0
    path = f"/api/campaigns/{created['id']}"
    edited = await spa.fetch("PUT", path, campaign_form(status="draft", name="Summer", script="Hi"))
    assert edited.status_code == 200 and edited.json()["name"] == "Summer"
    deleted = await spa.fetch("DELETE", path)
    assert deleted.status_code == 200 and deleted.json()["id"] == created["id"]


async def test_campaigns_api_status_actions(spa):
    """api-adapter.ts campaignsAPI.start/pause/complete (axios POST, no body)."""
    contact = await create_contact(spa)
    created = await spa.axios("POST", "/campaigns", {"name": "X", "script": "Hi", "contactIds": [contact["id"]]})
    path = f"/campaigns/{created.json()['id']}"
    for action, status in (("start", "active"), ("pause", "paused"), ("complete", "completed")):
        response = await spa.axios("POST", f"{path}/{action}")
        assert (response.status_code, response.json()["status"]) == (200, status)


async def test_an_unknown_field_is_named_never_dropped(spa):
    response = await spa.fetch("POST", "/api/campaigns", campaign_form(status="draft", budget=100))
    assert response.status_code == 400 and "budget" in response.json()["message"]


# --- cookie writes: same origin without a header, cross-site refused --------------------------------------------


async def test_a_cross_site_write_with_the_victims_cookies_is_refused(spa, db):
    for headers in ({"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
                    {"Sec-Fetch-Site": "same-site", "Origin": "https://evil.testserver.local"},
                    {"Origin": "https://evil.example"}, {}):  # fmt: skip
        response = await spa.client.post("/api/contacts", json={"fullName": "Mallory"}, headers=headers)
        assert (response.status_code, response.json()["code"]) == (403, "csrf_failed"), headers
    assert await db.fetchval("SELECT count(*) FROM contacts") == 0


async def test_a_cookie_write_from_a_trusted_origin_or_with_the_header_is_accepted(spa):
    by_origin = await spa.client.post(
        "/api/contacts", json={"fullName": "A"}, headers={"Origin": "http://testserver.local"}
    )
    with_header = await spa.client.post(
        "/api/contacts", json={"fullName": "B"}, headers={"X-CSRF-Token": spa.user["csrfToken"]}
    )
    assert (by_origin.status_code, with_header.status_code) == (201, 201)


async def test_a_cookie_read_needs_no_origin(spa):
    assert (await spa.client.get("/api/contacts")).status_code == 200
    assert SAME_ORIGIN  # reads carry it too in a browser, but need not
