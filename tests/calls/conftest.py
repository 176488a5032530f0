import pytest

from tests.fakes.twilio import pointed_at


@pytest.fixture
def settings(settings, twilio):
    """The service pointed at the loopback Twilio, with fast retries."""
    return pointed_at(settings, twilio)


@pytest.fixture
async def caller(make_user):
    return await make_user(credits=100)


@pytest.fixture
def contact(client, caller):
    async def create(phone="+14155550100", **fields):
        body = {"firstName": "Ada", "lastName": "Lovelace", "company": "Engines", "phone": phone, **fields}
        response = await client.post("/api/contacts", json=body, headers=caller.headers)
        assert response.status_code == 201, response.text
        return response.json()

    return create
