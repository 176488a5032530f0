async def test_health_answers_without_touching_the_database(client):
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_reports_the_schema_head(client):
    response = await client.get("/ready")
    assert response.status_code == 200
    assert response.json()["schemaRevision"] == "0001"
