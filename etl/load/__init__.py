"""Load: snapshot -> Postgres, through staging tables and upserts, resumable (see ``loader``).

Nothing is imported here: the staging worker process imports this package, and the loader would bring the
service's ORM models with it (``rollups``), 30 MB it never uses.
"""
