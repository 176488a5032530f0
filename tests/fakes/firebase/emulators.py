"""Starts and stops the npm Firebase emulators on free 127.0.0.1 ports.

- Auth: ``firebase-tools`` (``firebase emulators:start --only auth``), offline, no Java. One process
  serves any number of project ids, so tests isolate themselves with unique project ids.
- Firestore: ``@firestore-emulator/server`` through ``firestore_emulator.js`` (binds 127.0.0.1).

``node_modules`` is installed with ``npm ci`` from the lock file on first use (under a file lock,
so parallel pytest-xdist workers install it once). ``shared`` lets the workers of one run share one emulator.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.fakes.ports import free_port

HERE = Path(__file__).resolve().parent
NODE_MODULES = HERE / "node_modules"
FIREBASE_BIN = NODE_MODULES / "firebase-tools" / "lib" / "bin" / "firebase.js"


class EmulatorError(RuntimeError):
    """An emulator could not be installed or started (the message says what to do)."""


def _require(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        raise EmulatorError(
            f"`{tool}` is not on PATH: the etl tests need Node.js 20+ and npm (apt-get install nodejs npm)"
        )
    return found


def ensure_node_modules() -> None:
    """``npm ci`` once, if node_modules is missing or incomplete."""
    node = _require("node")
    npm = _require("npm")
    with open(Path(tempfile.gettempdir()) / "reachimpact-npm-ci.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if FIREBASE_BIN.exists() and (NODE_MODULES / "@firestore-emulator" / "server").exists():
            return
        # --omit=optional: firebase-tools' optional native add-on re2 (Hosting rewrites, unused by the emulators)
        # has no prebuilt binary reachable here and would compile from source for minutes.
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--omit=optional"],
            cwd=HERE,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if result.returncode != 0:
            raise EmulatorError(f"npm ci failed in {HERE} (node at {node}):\n{result.stderr[-3000:]}")


class NodeEmulator:
    """One emulator process (in its own process group, so stopping it stops its children)."""

    def __init__(self, name: str, process: subprocess.Popen[bytes], host: str, workdir: Path) -> None:
        self.name = name
        self.process = process
        self.host = host
        self.workdir = workdir

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self) -> str:
        path = self.workdir / "emulator.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""


def _spawn(name: str, args: list[str], workdir: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "HOME": str(workdir),  # firebase-tools keeps its config store under HOME
        "XDG_CONFIG_HOME": str(workdir),
        "CI": "true",  # no message-of-the-day fetch, no update check
    }
    log = open(workdir / "emulator.log", "wb")  # noqa: SIM115 - the child owns it
    return subprocess.Popen(args, cwd=workdir, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)


def _wait(emulator: NodeEmulator, ready: Callable[[], bool], timeout: float) -> NodeEmulator:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if emulator.process.poll() is not None:
            raise EmulatorError(f"{emulator.name} exited with {emulator.process.returncode}:\n{emulator.log_tail()}")
        if ready():
            return emulator
        time.sleep(0.2)
    emulator.stop()
    raise EmulatorError(f"{emulator.name} not ready after {timeout}s:\n{emulator.log_tail()}")


def start_auth_emulator(timeout: float = 90) -> NodeEmulator:
    ensure_node_modules()
    workdir = Path(tempfile.mkdtemp(prefix="auth-emulator-"))
    port = free_port()
    config = {
        "emulators": {
            "auth": {"host": "127.0.0.1", "port": port},
            "hub": {"host": "127.0.0.1", "port": free_port()},
            "logging": {"host": "127.0.0.1", "port": free_port()},
            "ui": {"enabled": False},
        }
    }
    (workdir / "firebase.json").write_text(json.dumps(config))
    args = [_require("node"), str(FIREBASE_BIN), "emulators:start", "--only", "auth", "--project", "demo-reachimpact"]
    emulator = NodeEmulator("firebase-tools auth emulator", _spawn("auth", args, workdir), f"127.0.0.1:{port}", workdir)

    def ready() -> bool:
        try:
            with urllib.request.urlopen(f"http://{emulator.host}/", timeout=1) as response:
                return bool(json.load(response).get("authEmulator", {}).get("ready"))
        except (OSError, urllib.error.URLError, ValueError):
            return False

    return _wait(emulator, ready, timeout)


def start_firestore_emulator(timeout: float = 30) -> NodeEmulator:
    ensure_node_modules()
    workdir = Path(tempfile.mkdtemp(prefix="firestore-emulator-"))
    port = free_port()
    args = [_require("node"), str(HERE / "firestore_emulator.js"), str(port)]
    emulator = NodeEmulator(
        "@firestore-emulator/server", _spawn("firestore", args, workdir), f"127.0.0.1:{port}", workdir
    )
    return _wait(emulator, lambda: "READY" in emulator.log_tail(), timeout)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@contextmanager
def shared(directory: Path, start: Callable[[], NodeEmulator]) -> Iterator[str]:
    """The host of an emulator shared by every process that uses `directory` (the xdist workers of one run).

    The first one starts it and, once it is done, waits until the others are done or gone, then stops it: one
    start-up per run instead of one per worker (the Auth emulator's costs about 10 s of CPU). Users are
    process ids, so a worker that crashed does not keep it running.
    """
    state, lock = directory / "state.json", directory / "lock"
    directory.mkdir(parents=True, exist_ok=True)
    emulator = None
    with _locked(lock):
        if state.exists():
            current = json.loads(state.read_text())
        else:
            emulator = start()
            current = {"host": emulator.host, "users": []}
        current["users"].append(os.getpid())
        state.write_text(json.dumps(current))
    try:
        yield current["host"]
    finally:
        while True:
            with _locked(lock):
                current = json.loads(state.read_text())
                current["users"] = [pid for pid in current["users"] if pid != os.getpid() and _alive(pid)]
                if emulator is None:
                    state.write_text(json.dumps(current))
                    break
                if not current["users"]:  # stopped under the lock: nobody can join it meanwhile
                    state.unlink()
                    emulator.stop()
                    break
            time.sleep(0.2)
