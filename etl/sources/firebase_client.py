"""Builds the Firebase clients. The only module of the extract that reads the environment.

Honoured variables:
- ``FIREBASE_AUTH_EMULATOR_HOST`` (firebase-admin talks to the Auth emulator, without credentials)
- ``FIRESTORE_EMULATOR_HOST`` (google-cloud-firestore talks to an emulator over plain gRPC)
- ``GOOGLE_APPLICATION_CREDENTIALS`` (a service-account file; its ``project_id`` is the default project)
- ``GOOGLE_CLOUD_PROJECT`` / ``GCLOUD_PROJECT`` (the project when none is given)
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import firebase_admin
from firebase_admin import credentials
from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore


class FirebaseConfigError(Exception):
    """Not enough configuration to reach Firebase (the message says what is missing)."""


def resolve_project_id(project_id: str | None = None) -> str:
    """The given project, else the credentials file's, else GOOGLE_CLOUD_PROJECT/GCLOUD_PROJECT."""
    if project_id:
        return project_id
    credentials_file = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    if credentials_file:
        try:
            found = json.loads(Path(credentials_file).read_text()).get("project_id")
        except (OSError, ValueError) as exc:
            raise FirebaseConfigError(f"cannot read GOOGLE_APPLICATION_CREDENTIALS={credentials_file}: {exc}") from exc
        if found:
            return str(found)
    found = os.environ.get("GOOGLE_CLOUD_PROJECT") or os.environ.get("GCLOUD_PROJECT")
    if not found:
        raise FirebaseConfigError(
            "no Firebase project: pass --project, or set GOOGLE_APPLICATION_CREDENTIALS to a "
            "service-account file, or GOOGLE_CLOUD_PROJECT"
        )
    return found


def firestore_client(project_id: str | None = None) -> firestore.Client:
    """A Firestore client; against FIRESTORE_EMULATOR_HOST when it is set."""
    project = resolve_project_id(project_id)
    if os.environ.get("FIRESTORE_EMULATOR_HOST"):
        return firestore.Client(project=project, credentials=AnonymousCredentials())
    return firestore.Client(project=project)


def admin_app(project_id: str | None = None) -> firebase_admin.App:
    """A fresh, uniquely named firebase-admin app (delete it with ``firebase_admin.delete_app``).

    firebase-admin itself reads FIREBASE_AUTH_EMULATOR_HOST and then sends no real credentials.
    """
    options = {"projectId": resolve_project_id(project_id)}
    credentials_file = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    # None means application default credentials, resolved lazily (never, against the emulator).
    credential = credentials.Certificate(credentials_file) if credentials_file else None
    return firebase_admin.initialize_app(credential, options, name=f"reachimpact-etl-{uuid.uuid4().hex}")
