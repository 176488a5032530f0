"""Firebase -> Postgres import, and back.

Extract half (this package's sources, snapshot and push modules): read Firebase Auth and Firestore
into a local snapshot directory (``etl.extract.extract``), read it back as streams
(``etl.snapshot.Snapshot``), and write documents and users back to Firebase (``etl.push``).
The snapshot format is documented in ``etl/README-snapshot.md``.
"""
