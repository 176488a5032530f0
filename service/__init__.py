"""ReachImpact backend: a Litestar service on PostgreSQL."""
