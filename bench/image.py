"""The image's size and start-up time: `docker start` to the first `GET /ready` 200, against the same
`reachimpact serve` started from the checkout's virtualenv, interleaved.

    .venv/bin/python bench/image.py --server-url postgresql://postgres@127.0.0.1:55432/postgres [--runs 5]

--server-url is a maintenance database reachable from the container over the host network; the script creates a
scratch database there, migrates it with the image (`reachimpact migrate upgrade`, timed), and drops it after.
Needs a running Docker engine and the image (default reachimpact:local; docs/deploy.md says how it was built).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import time
import urllib.request
import uuid
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from harness import BIN, free_port

SECRET = "bench-image-" + "x" * 40


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def admin(url: str, statement: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def wait_ready(port: int, started: float, timeout: float = 60) -> float:
    while time.monotonic() - started < timeout:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except OSError:
            time.sleep(0.02)
    raise SystemExit(f"nothing ready on port {port} after {timeout} s")


def docker_env(dsn: str, port: int) -> list[str]:
    pairs = {"DATABASE_URL": dsn, "JWT_SECRET": SECRET, "PUBLIC_BASE_URL": "https://bench.example", "PORT": str(port)}
    return [arg for key, value in pairs.items() for arg in ("-e", f"{key}={value}")]


def image_start(image: str, dsn: str) -> tuple[float, float]:
    """(seconds to create the container, seconds from `docker start` to ready)."""
    port = free_port()
    started = time.monotonic()
    container = subprocess.check_output(
        ["docker", "create", "--network", "host", *docker_env(dsn, port), image], text=True
    ).strip()
    created = time.monotonic() - started
    try:
        started = time.monotonic()
        subprocess.run(["docker", "start", container], check=True, capture_output=True)
        return created, wait_ready(port, started)
    finally:
        subprocess.run(["docker", "rm", "--force", container], check=True, capture_output=True)


def checkout_start(dsn: str) -> float:
    port = free_port()
    env = {
        **os.environ,
        "ENV": "production",
        "DATABASE_URL": dsn,
        "JWT_SECRET": SECRET,
        "PUBLIC_BASE_URL": "https://bench.example",
    }
    started = time.monotonic()
    process = subprocess.Popen(
        [str(BIN / "reachimpact"), "serve", "--no-migrate", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        return wait_ready(port, started)
    finally:
        process.terminate()
        process.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server-url", required=True)
    parser.add_argument("--image", default="reachimpact:local")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    inspect = json.loads(subprocess.check_output(["docker", "image", "inspect", args.image]))[0]
    history = subprocess.check_output(
        ["docker", "history", "--format", "{{.Size}}\t{{.CreatedBy}}", args.image], text=True
    )
    print(f"image {args.image}: {inspect['Size'] / 1e6:.0f} MB; layers:")
    print("".join(f"  {line}\n" for line in history.splitlines() if not line.startswith("0B")), end="")

    name = f"bench_image_{uuid.uuid4().hex[:8]}"
    asyncio.run(admin(args.server_url, f"CREATE DATABASE {name}"))
    dsn = with_database(args.server_url, name)
    try:
        started = time.monotonic()
        subprocess.run(
            [
                "docker",
                "run",
                "--rm",
                "--network",
                "host",
                *docker_env(dsn, 8080),
                args.image,
                "reachimpact",
                "migrate",
                "upgrade",
            ],
            check=True,
            capture_output=True,
        )
        print(
            f"docker run ... migrate upgrade, empty db: {time.monotonic() - started:.1f} s, container creation included"
        )
        creates, image_ready, checkout_ready = [], [], []
        for _ in range(args.runs):  # interleaved, so both see the same machine load
            created, ready = image_start(args.image, dsn)
            creates.append(created)
            image_ready.append(ready)
            checkout_ready.append(checkout_start(dsn))
    finally:
        asyncio.run(admin(args.server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))

    def summary(values: list[float]) -> str:
        return f"median {statistics.median(values):.2f} s, min {min(values):.2f}, max {max(values):.2f}"

    print(f"docker create (storage driver copy): {summary(creates)}")
    print(f"image: docker start -> /ready 200:  {summary(image_ready)}")
    print(f"checkout venv: serve -> /ready 200: {summary(checkout_ready)}")
    print(
        f"image / checkout start-up (medians): {statistics.median(image_ready) / statistics.median(checkout_ready):.2f}"
    )


if __name__ == "__main__":
    main()
