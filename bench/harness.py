"""What the bench scripts share: free ports, starting a server and waiting for it, wrk and its figures."""

from __future__ import annotations

import asyncio
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(cmd: list[str], port: int, env: dict[str, str], attempts: int = 150) -> subprocess.Popen:
    """Start `cmd` in its own session and return once GET /health answers on `port`."""
    process = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    for _ in range(attempts):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"{cmd[0]} did not start")


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
