"""Loopback Firebase for the etl tests.

Session-scoped npm emulators (the Auth one shared by the xdist workers of a run, as it takes seconds to
start), a fresh in-process Firestore gRPC fake per test, and a unique project id per test so tests never
see each other's data. Missing Node.js fails the
tests with a message; nothing is skipped.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from tests.fakes.firebase.emulators import (
    EmulatorError,
    NodeEmulator,
    shared,
    start_auth_emulator,
    start_firestore_emulator,
)
from tests.fakes.firebase.firestore_fake import FirestoreFake


def _started(start: Callable[[], NodeEmulator]) -> NodeEmulator:
    try:
        return start()
    except EmulatorError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def auth_emulator(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Iterator[str]:
    """The Auth emulator's host, shared through the run's temporary directory (each worker has its own below it)."""
    base = tmp_path_factory.getbasetemp()
    run = base if worker_id == "master" else base.parent
    with shared(run / "auth-emulator", lambda: _started(start_auth_emulator)) as host:
        yield host


@pytest.fixture(scope="session")
def firestore_emulator() -> Iterator[NodeEmulator]:
    emulator = _started(start_firestore_emulator)
    yield emulator
    emulator.stop()


@pytest.fixture
def project_id() -> str:
    return f"demo-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def auth_env(auth_emulator: str, monkeypatch: pytest.MonkeyPatch, project_id: str) -> str:
    """The Auth emulator in the environment (as an operator would set it); returns the project id."""
    monkeypatch.setenv("FIREBASE_AUTH_EMULATOR_HOST", auth_emulator)
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    return project_id


@pytest.fixture
def emulator_env(firestore_emulator: NodeEmulator, monkeypatch: pytest.MonkeyPatch, project_id: str) -> str:
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator.host)
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    return project_id


@pytest.fixture
def firestore_fake() -> Iterator[FirestoreFake]:
    fake = FirestoreFake().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_env(firestore_fake: FirestoreFake, monkeypatch: pytest.MonkeyPatch, project_id: str) -> str:
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_fake.host)
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    return project_id
