import pytest


@pytest.fixture
async def owner(make_user):
    return await make_user()


@pytest.fixture
def create_contact(client, owner):
    """create_contact(**fields) -> the created contact's JSON, through the API."""

    async def create(**fields):
        body = {"firstName": "Ada", "lastName": "Lovelace", "phone": "+14155550100", **fields}
        response = await client.post("/api/contacts", json=body, headers=owner.headers)
        assert response.status_code == 201, response.text
        return response.json()

    return create
