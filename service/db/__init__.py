"""Database access: schema models, connection pool, embedded server bootstrap."""
