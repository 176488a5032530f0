"""The SPA's two ways of calling, as its client modules do them (VisionaryMind88/ReachImpact-app, client/src/lib).

- `axios`: api-adapter.ts. JSON bodies, `Authorization: Bearer <the token from the login body>`, no cookies of
  its own (a browser would send them too, same origin; the bearer header wins).
- `fetch`: queryClient.ts apiRequest / getQueryFn. `credentials: "include"`: cookies only, no Authorization, no
  X-CSRF-Token. The browser adds `Sec-Fetch-Site: same-origin` because the SPA is served by this service.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from litestar.testing import AsyncTestClient

PASSWORD = "correct-horse-battery-9"
SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}


@dataclass
class Spa:
    client: AsyncTestClient
    token: str
    user: dict

    async def axios(self, method: str, path: str, json: object = None):
        """api-adapter.ts: baseURL /api, the bearer token from localStorage."""
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        return await self.client.request(method, "/api" + path, json=json, headers=headers)

    async def fetch(self, method: str, url: str, json: object = None):
        """queryClient.ts apiRequest: the session cookies and nothing else."""
        return await self.client.request(method, url, json=json, headers=SAME_ORIGIN)


# The register form's fields (components/auth/AuthForm.tsx over shared/schema.ts insertUserSchema), without
# confirmPassword, which the form removes.
def register_form(email: str) -> dict:
    return {
        "email": email,
        "password": PASSWORD,
        "fullName": "Ada Lovelace",
        "companyName": "Analytical Engines",
        "phoneNumber": "(415) 555-0123",
        "industry": "Computing",
        "preferredLanguage": "en",
        "companyDescription": "Engines that compute",
    }


@pytest.fixture
async def spa(client) -> Spa:
    """A user registered as NewAuthContext does it (axios POST /auth/register); the browser keeps the cookies."""
    email = f"spa-{uuid.uuid4().hex[:10]}@example.com"
    response = await client.post("/api/auth/register", json=register_form(email))
    assert response.status_code == 201, response.text
    body = response.json()
    return Spa(client, body["token"], body)
