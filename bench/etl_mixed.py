"""End-to-end import benchmark on a mixed ReachImpact-shaped project: ``etl extract``, ``etl load`` and
``etl verify`` run as the operator runs them (the CLI, one process per stage), then ``etl run`` (all three in
one process) into a second fresh database; each timed, with its peak RSS, and each started on a quiet server
(no autovacuum running, after a checkpoint).

    .venv/bin/python bench/etl_mixed.py --documents 100000
    .venv/bin/python bench/etl_mixed.py --documents 1000000

The project (generated once, cached under bench/.data): an ``auth:export`` file with one Auth user per profile,
and a firestore-backfire NDJSON export holding, per 1,000 documents, about 10 user profiles, 600 contacts,
10 campaigns with ``contactIds`` arrays (20 ids each, some dangling), 250 calls referencing users, contacts and
campaigns, 10 channels with ``members`` and 8 messages each in a subcollection, and 40 documents of a
collection the import does not know (kept as unmapped records). Uses DATABASE_URL's server if set, else the
embedded one under bench/.data.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.etl_load import _fresh_database  # noqa: E402
from bench.harness import process_tree  # noqa: E402
from service.db import migrations  # noqa: E402
from service.db.embedded import normalize_url, start_embedded_server  # noqa: E402

DATA = ROOT / "bench" / ".data"
STATUSES = ("new", "contacted", "interested", "Not Interested", "converted")
CALL_STATUSES = ("completed", "busy", "no-answer", "failed")
CREATED_MS = 1_700_000_000_000
MEMORY = ("max_rss_mb", "sum_rss_mb", "sum_pss_mb")  # a stage's memory figures, in the table's order


def _when(rng: random.Random) -> dict[str, int]:
    return {"_seconds": 1_700_000_000 + rng.randint(0, 30_000_000), "_nanoseconds": rng.randint(0, 999_999) * 1000}


def _line(path: str, data: dict[str, Any], timestamps: list[str] = ()) -> str:  # type: ignore[assignment]
    record: dict[str, Any] = {"path": path, "data": data}
    if timestamps:
        record["timestamps"] = list(timestamps)
    return json.dumps(record, separators=(",", ":"))


def generate(directory: Path, documents: int) -> None:
    """Writes auth.json and firestore.ndjson for about ``documents`` documents."""
    rng = random.Random(documents)
    per = documents / 1000
    users, campaigns, channels = max(int(10 * per), 1), max(int(10 * per), 1), max(int(10 * per), 1)
    calls, unknown = int(250 * per), int(40 * per)
    contacts = documents - users - campaigns - calls - channels * 9 - unknown
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "auth.json", "w") as auth:
        auth.write('{"users": [\n')
        auth.write(
            ",\n".join(
                json.dumps({"localId": f"u{i}", "email": f"user{i}@example.com", "createdAt": str(CREATED_MS + i)})
                for i in range(users)
            )
        )
        auth.write("\n]}\n")
    with open(directory / "firestore.ndjson", "w") as out:
        for i in range(users):
            data = {"fullName": f"User {i}", "companyName": f"Co {i % 97}", "credits": rng.randint(0, 500)}
            out.write(_line(f"users/u{i}", data) + "\n")
        for i in range(contacts):
            data = {
                "userId": f"u{rng.randrange(users)}",
                "firstName": f"First{i}",
                "lastName": f"Last{i % 1000}",
                "phone": f"+1415{rng.randint(2_000_000, 9_999_999)}",
                "email": f"c{i}@example.org",
                "status": rng.choice(STATUSES),
                "tags": ["lead"] if i % 3 else [],
                "createdAt": _when(rng),
            }
            out.write(_line(f"contacts/c{i}", data, ["createdAt"]) + "\n")
        for i in range(campaigns):
            ids = [f"c{rng.randrange(contacts)}" for _ in range(19)] + [f"gone{i}"]
            data = {"userId": f"u{rng.randrange(users)}", "name": f"Campaign {i}", "contactIds": ids, "status": "draft"}
            out.write(_line(f"campaigns/k{i}", data) + "\n")
        for i in range(calls):
            data = {
                "userId": f"u{rng.randrange(users)}",
                "contactId": f"c{rng.randrange(contacts)}",
                "campaignId": f"k{rng.randrange(campaigns)}",
                "twilioSid": f"CA{i:032d}",
                "status": rng.choice(CALL_STATUSES),
                "duration": rng.randint(0, 900),
                "createdAt": _when(rng),
            }
            out.write(_line(f"calls/x{i}", data, ["createdAt"]) + "\n")
        for i in range(channels):
            members = [f"u{rng.randrange(users)}" for _ in range(3)]
            room = {"name": f"Room {i}", "createdBy": members[0], "members": members}
            out.write(_line(f"channels/h{i}", room) + "\n")
            for m in range(8):
                data = {"text": f"message {m}", "senderId": rng.choice(members), "createdAt": _when(rng)}
                out.write(_line(f"channels/h{i}/messages/m{m}", data, ["createdAt"]) + "\n")
        for i in range(unknown):
            out.write(_line(f"auditLog/a{i}", {"event": "login", "n": i}) + "\n")


async def _quiet(dsn: str) -> None:
    """Wait (up to 3 minutes) until no autovacuum runs, then checkpoint: each stage starts on an idle server,
    not beside the vacuum and the dirty pages of the 1M rows the stage before it wrote."""
    db = await asyncpg.connect(dsn)
    try:
        for _ in range(360):
            if not await db.fetchval("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'"):
                break
            await asyncio.sleep(0.5)
        await db.execute("CHECKPOINT")
    finally:
        await db.close()


def _stage(name: str, args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """One CLI stage in a child process, on a quiet server: wall seconds, the largest peak RSS of it and its
    worker processes (``wait4``), and the peaks of their sums of RSS and of PSS (sampled every 50 ms from /proc:
    extract and load run workers).

    The RSS sum counts a page shared by two processes twice: the extract's forked encoders share most of theirs
    with the command, and a worker being spawned is, for the instant between its fork and its exec, a second
    copy of the whole command (seen: 145 MB more for one sample). PSS divides each shared page among the
    processes that map it, so its sum is the memory the processes hold together."""
    asyncio.run(_quiet(env["DATABASE_URL"]))
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "reachimpact"), "etl", *args], env=env, stdout=subprocess.DEVNULL
    )
    peak = [0, 0]  # kB: the sums of RSS and of PSS
    sampler = threading.Thread(target=_sample_tree, args=(process, peak), daemon=True)
    sampler.start()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    sampler.join()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"etl {name} failed ({os.waitstatus_to_exitcode(status)})")
    return {
        "stage": name,
        "seconds": seconds,
        "max_rss_mb": usage.ru_maxrss / 1024,
        "sum_rss_mb": peak[0] / 1024,
        "sum_pss_mb": peak[1] / 1024,
    }


def _sample_tree(process: subprocess.Popen[bytes], peak: list[int]) -> None:
    while process.returncode is None and Path(f"/proc/{process.pid}").exists():
        memory = [_memory_kb(pid) for pid in process_tree(process.pid)]
        peak[0] = max(peak[0], sum(rss for rss, _ in memory))
        peak[1] = max(peak[1], sum(pss for _, pss in memory))
        time.sleep(0.05)


def _memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of a process, 0 for one that is gone."""
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0, 0
    kb = {name: int(value.split()[0]) for name, value in (line.split(":", 1) for line in rollup.splitlines()[1:])}
    return kb["Rss"], kb["Pss"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=1_000_000)
    args = parser.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    project = DATA / f"mixed-{args.documents}"
    if not (project / "firestore.ndjson").exists():
        generate(project, args.documents)
    with open(project / "firestore.ndjson", "rb") as export:
        documents = sum(1 for _ in export)
    url = os.environ.get("DATABASE_URL")
    server = normalize_url(url) if url else start_embedded_server(DATA / "pg", "postgres")
    # Named after DATABASE_URL's database, so two people benchmarking on one server never drop each other's.
    prefix = urlsplit(url).path.strip("/") if url else "bench"
    dsn = asyncio.run(_fresh_database(server, f"{prefix}_mixed_{args.documents}"))
    migrations.upgrade(dsn)
    snapshot = project / "snapshot"
    subprocess.run(["rm", "-rf", str(snapshot)], check=True)
    env = {**os.environ, "DATABASE_URL": dsn, "LOG_LEVEL": "WARNING", "REACHIMPACT_DATA_DIR": str(project / "data")}
    sources = ["--auth-export", str(project / "auth.json"), "--firestore-export", str(project / "firestore.ndjson")]
    stages = [
        _stage("extract", ["extract", str(snapshot), *sources], env),
        _stage("load", ["load", str(snapshot)], env),
        _stage("verify", ["verify", str(snapshot)], env),
    ]
    # And the operator's one command, ``etl run`` (one process: one start-up), into another fresh database.
    run_dsn = asyncio.run(_fresh_database(server, f"{prefix}_mixed_run_{args.documents}"))
    migrations.upgrade(run_dsn)
    subprocess.run(["rm", "-rf", str(project / "run-snapshot")], check=True)
    run_args = ["run", *sources, "--snapshot-dir", str(project / "run-snapshot")]
    run = _stage("etl run", run_args, {**env, "DATABASE_URL": run_dsn})
    total = sum(s["seconds"] for s in stages)
    print(
        "| stage | seconds | documents/s | peak RSS, largest process | peak RSS, all its processes "
        "| peak PSS, all its processes |"
    )
    print("|---|---|---|---|---|---|")
    for s in [*stages, {**run, "stage": "`etl run` (extract, load, verify in one process)"}]:
        print(f"| {s['stage']} | {s['seconds']:.1f} | {documents / s['seconds']:,.0f} | {_memory(s)} |")
    peaks = {key: max(s[key] for s in stages) for key in MEMORY}
    print(f"| the three stages | {total:.1f} | {documents / total:,.0f} | {_memory(peaks)} |")


def _memory(figures: dict[str, Any]) -> str:
    return " | ".join(f"{figures[key]:.0f} MB" for key in MEMORY)


if __name__ == "__main__":
    main()
