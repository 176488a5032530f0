#!/usr/bin/env python3
"""granian against uvicorn, serving the same app on the same database, interleaved (A B A B ...).

    .venv/bin/python bench/servers.py [--database-url URL] [--seconds 10] [--rounds 3]

Scenarios: GET /health (framework + server only) and GET /ready (one database round trip). Prints the median
requests/s of each server and the granian/uvicorn ratio. Needs wrk (apt-get install wrk).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
from pathlib import Path

from harness import BIN, free_port, start_server, wrk


def start(server: str, port: int, env: dict[str, str]) -> subprocess.Popen:
    if server == "granian":
        cmd = [str(BIN / "reachimpact"), "serve", "--port", str(port), "--workers", "1", "--no-migrate"]
    else:
        cmd = [
            str(BIN / "uvicorn"),
            "--factory",
            "service.app:served_app",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ]
    return start_server(cmd, port, env, attempts=100)


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
                    results[name].append(wrk(f"http://127.0.0.1:{port}{path}", args.seconds)["rate"])
            g, u = statistics.median(results["granian"]), statistics.median(results["uvicorn"])
            print(f"{path:<8} {g:>9.0f} {u:>9.0f} {g / u:>6.2f}")
    finally:
        for process in processes.values():
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(10)


if __name__ == "__main__":
    main()
