"""Sources of an extract. Each yields typed records (``AuthUser`` or ``Document``) and can be used alone.

- ``auth_export``: ``firebase auth:export`` JSON and CSV files
- ``auth_admin``: Auth users through the Admin SDK (``list_users``)
- ``firestore_files``: node-firestore-import-export JSON and firestore-backfire NDJSON files
- ``firestore_live``: a live Firestore database through google-cloud-firestore
- ``firebase_client``: the one place where Firebase clients are built from the environment
"""
