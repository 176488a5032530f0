#!/usr/bin/env python3
"""granian against uvicorn, serving the same app on the same database, interleaved (A B A B ...).

    .venv/bin/python bench/servers.py [--database-url URL] [--seconds 10] [--rounds 3]

Scenarios: GET /health (framework + server only) and GET /ready (one database round trip). Prints the median
requests/s of each server and the granian/uvicorn ratio. Needs wrk (apt-get install wrk).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(server: str, port: int, env: dict[str, str]) -> subprocess.Popen:
    if server == "granian":
        cmd = [str(BIN / "reachimpact"), "serve", "--port", str(port), "--workers", "1", "--no-migrate"]
    else:
        cmd = [
            str(BIN / "uvicorn"),
            "--factory",
            "service.app:create_app",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ]
    process = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            return process
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{server} did not start")


def wrk(url: str, seconds: int) -> float:
    out = subprocess.run(["wrk", "-t2", "-c32", f"-d{seconds}s", url], capture_output=True, text=True).stdout
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    env = dict(os.environ, LOG_LEVEL="WARNING", JWT_SECRET="b" * 48)
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    else:  # resolve the embedded server once, so both servers share it
        from service.db.embedded import start_embedded_server

        env["DATABASE_URL"] = start_embedded_server(Path(".data"))
    subprocess.run([str(BIN / "reachimpact"), "migrate", "upgrade"], env=env, check=True)

    ports = {"granian": free_port(), "uvicorn": free_port()}
    processes = {name: start(name, port, env) for name, port in ports.items()}
    try:
        print(f"{'scenario':<8} {'granian':>9} {'uvicorn':>9} {'ratio':>6}")
        for path in ("/health", "/ready"):
            results: dict[str, list[float]] = {"granian": [], "uvicorn": []}
            for _ in range(args.rounds):
                for name, port in ports.items():
                    results[name].append(wrk(f"http://127.0.0.1:{port}{path}", args.seconds))
            g, u = statistics.median(results["granian"]), statistics.median(results["uvicorn"])
            print(f"{path:<8} {g:>9.0f} {u:>9.0f} {g / u:>6.2f}")
    finally:
        for process in processes.values():
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(10)


if __name__ == "__main__":
    main()
