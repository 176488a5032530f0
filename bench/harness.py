"""What the bench scripts share: free ports, starting a server and waiting for it, wrk and its figures, users with
tokens made straight in the database, raw SSE connections, and a process tree's memory."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit, urlunsplit

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(
    cmd: list[str], port: int, env: dict[str, str], attempts: int = 150, log: IO[bytes] | None = None
) -> subprocess.Popen:
    """Start `cmd` in its own session and return once GET /health answers on `port`; its output goes to `log`."""
    output = log if log is not None else subprocess.DEVNULL
    process = subprocess.Popen(cmd, env=env, stdout=output, stderr=output, start_new_session=True)
    for _ in range(attempts):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"{cmd[0]} did not start")


@contextmanager
def services(env: dict[str, str], count: int = 2, logs: str | None = None) -> Iterator[tuple[list[int], list[int]]]:
    """`count` `reachimpact serve --workers 1` processes on env's database, output to files in `logs` if given;
    yields their ports and pids, and stops them afterwards."""
    ports = [free_port() for _ in range(count)]
    processes = []
    try:
        for port in ports:  # one after the other: the first one migrates
            cmd = [str(BIN / "reachimpact"), "serve", "--port", str(port), "--workers", "1"]
            with open(f"{logs}/serve-{port}.log", "wb") if logs else contextlib.nullcontext() as log:
                processes.append(start_server(cmd, port, env, log=log))
        yield ports, [p.pid for p in processes]
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(30)


def wrk(
    url: str, seconds: int, *, threads: int = 2, connections: int = 32, script: str | None = None
) -> dict[str, float]:
    """requests/s, p50 and p99 (ms) of one wrk run (`script`: a Lua file that shapes the requests)."""
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            *(["-s", script] if script else []),
            url,
        ],
        capture_output=True,
        text=True,
    ).stdout
    return {
        "rate": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": _percentile(out, "50%"),
        "p99": _percentile(out, "99%"),
    }


def _percentile(wrk_output: str, label: str) -> float:
    value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", wrk_output).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


async def _admin(url: str, statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextmanager
def fresh_database(server_url: str, prefix: str) -> Iterator[str]:
    """A new empty database on `server_url` (or on the embedded server when empty), dropped afterwards."""
    if not server_url:
        from service.db.embedded import start_embedded_server

        server_url = start_embedded_server(Path(".data"))
    name = f"{prefix}_{secrets.token_hex(4)}"
    asyncio.run(_admin(server_url, f"CREATE DATABASE {name}"))
    try:
        yield urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    finally:
        asyncio.run(_admin(server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


def production_logging(env: dict[str, str]) -> dict[str, str]:
    """`env` with the access log on as production runs it (JSON lines at INFO), unless the caller set otherwise."""
    return {"LOG_FORMAT": "json", "LOG_LEVEL": "INFO", **env}


def process_tree(pid: int) -> list[int]:
    """The process and all its descendants, from /proc (empty once it is gone)."""
    try:
        children = [int(c) for t in Path(f"/proc/{pid}/task").iterdir() for c in (t / "children").read_text().split()]
    except OSError:
        return []
    return [pid, *(p for child in children for p in process_tree(child))]


def rss_kib(pid: int) -> int:
    """Resident memory of a process and its children (granian runs the app in a child)."""
    pids = [pid, *map(int, subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split())]
    total = 0
    for p in pids:
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


async def insert_users(connection, secret: str, count: int) -> dict[uuid.UUID, dict[str, str]]:
    """`count` users with a live session each, straight in the database; user id -> its Authorization header."""
    from service.auth.tokens import TokenService
    from service.config import Settings
    from service.db.models.base import uuid7

    tokens = TokenService(Settings(env="test", jwt_secret=secret).finalized())
    users, sessions = [uuid7() for _ in range(count)], [uuid7() for _ in range(count)]
    await connection.executemany(
        "INSERT INTO users (id, email, full_name) VALUES ($1, $2, 'Bench')",
        [(u, f"bench-{u.hex}@example.com") for u in users],
    )
    await connection.executemany(
        "INSERT INTO auth_sessions (id, user_id, expires_at) VALUES ($1, $2, now() + interval '1 day')",
        list(zip(sessions, users, strict=True)),
    )
    return {
        u: {"Authorization": "Bearer " + tokens.issue(user_id=u, session_id=s, role="customer")[0]}
        for u, s in zip(users, sessions, strict=True)
    }


async def open_event_stream(port: int, headers: dict[str, str]) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A `GET /api/events` over a raw socket (1,000 httpx clients would cost the bench more than the service),
    read up to its status line. Keep the writer: a collected StreamWriter closes the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
        f"Authorization: {headers['Authorization']}\r\n\r\n".encode()
    )
    await writer.drain()
    status = await reader.readline()
    if b" 200 " not in status:
        raise SystemExit(f"event stream refused: {status!r}")
    return reader, writer
