#!/usr/bin/env python3
"""The campaign dialer at scale: one campaign of N contacts through a real `reachimpact worker` and the loopback
Twilio, which answers every call with a realistic mix of outcomes through signed webhooks to `reachimpact serve`.

    .venv/bin/python bench/dialer.py [--server-url URL] [--contacts 10000 2000] [--rate 50] [--concurrent 200]

For each size it makes a fresh database on `--server-url` (a maintenance database URL, never used itself; the
embedded server when empty), dropped afterwards, one user with the contacts (straight in the database) and a
campaign of all of them (through the API), the account's pacing set to `--rate` calls/s and `--concurrent` calls
at once, calling hours all day, one attempt per contact. Then it starts the campaign and waits until it is
completed, reading GET /api/campaigns/:id (with its progress) every 2 s as a page would. The fake notes when each
dial arrives (CLOCK_MONOTONIC) and counts dials per number; the worker's CPU time and resident memory are read
from /proc every 0.2 s.

Reports, per size: the achieved dial rate (steady state: from the 2nd dial to the last) against the limit, the
busiest one-second window, inter-dial gaps (p50/p99 against the ideal 1/rate), double dials (numbers dialed more
than once, and contacts with more than one call row), the worker's CPU per call placed, its CPU share, and its
peak RSS. Scaled-down call durations keep a run short while the concurrency still matters: about 2.6 s a call
on average, so some 130 calls are live at 50 calls/s.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
import asyncpg
from harness import BIN, free_port, fresh_database, insert_users, rss_kib, start_server

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.fakes
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, CALLER_ID, FakeCall, TwilioFake

# (weight, final status, AnsweredBy, seconds from the dial to the end): about what a cold-calling list gets.
OUTCOMES = [
    (40, "completed", "human", (2.5, 4.0)),
    (15, "completed", "machine_end_beep", (2.0, 3.0)),
    (25, "no-answer", None, (2.5, 3.0)),
    (12, "busy", None, (0.5, 1.0)),
    (8, "failed", None, (0.1, 0.3)),
]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PROGRESS_EVERY = 2.0  # seconds between reads of GET /api/campaigns/:id (with its progress)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def busiest(times: list[float], seconds: float) -> int:
    """The most dials within any window of `seconds`."""
    best, first = 0, 0
    for last, moment in enumerate(times):
        while moment - times[first] >= seconds:
            first += 1
        best = max(best, last - first + 1)
    return best


class Answering:
    """Plays each call's webhooks, on the fake's loop, after the call's scaled-down duration."""

    def __init__(self, fake: TwilioFake, seed: int) -> None:
        self.fake = fake
        self.random = random.Random(seed)
        self.session: aiohttp.ClientSession | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self.refused = 0

    def __call__(self, call: FakeCall) -> None:
        _, final, answered_by, (low, high) = self.random.choices(OUTCOMES, [o[0] for o in OUTCOMES])[0]
        task = asyncio.get_running_loop().create_task(
            self.play(call, final, answered_by, self.random.uniform(low, high))
        )
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def play(self, call: FakeCall, final: str, answered_by: str | None, seconds: float) -> None:
        if self.session is None:
            self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64))
        await asyncio.sleep(seconds)
        for callback in self.fake.progress(call.sid, final, duration=int(seconds * 20), answered_by=answered_by):
            headers = {"X-Twilio-Signature": callback.signature}
            async with self.session.post(callback.url, data=callback.params, headers=headers) as response:
                if response.status != 200:
                    self.refused += 1


async def prepare(dsn: str, contacts: int, secret: str, rate: float, concurrent: int) -> tuple[dict, list[str]]:
    connection = await asyncpg.connect(dsn)
    try:
        ((user, headers),) = (await insert_users(connection, secret, 1)).items()
        await connection.execute("UPDATE users SET credits = $2 WHERE id = $1", user, contacts * 10 + 100)
        ids = [uuid.uuid4() for _ in range(contacts)]
        # Numbers in San Francisco's 415 area (one zone), all distinct.
        phones = [f"+1415{2000000 + i:07d}" for i in range(contacts)]
        await connection.copy_records_to_table(
            "contacts",
            records=[(i, user, f"C{n}", "Bench", p) for n, (i, p) in enumerate(zip(ids, phones, strict=True))],
            columns=["id", "user_id", "first_name", "last_name", "phone"],
        )
        await connection.execute(
            "INSERT INTO dialer_pacing (account_sid, calls_per_second, max_concurrent) VALUES ($1, $2, $3)",
            ACCOUNT_SID,
            rate,
            concurrent,
        )
        return {**headers, "contact_ids": [str(i) for i in ids]}, phones
    finally:
        await connection.close()


async def api(session: aiohttp.ClientSession, method: str, url: str, headers: dict, body: dict | None = None) -> dict:
    async with session.request(method, url, json=body, headers=headers) as response:
        answer = await response.json()
        if response.status >= 300:
            raise SystemExit(f"{method} {url}: {response.status} {answer}")
        return answer


def run_one(server_url: str, contacts: int, rate: float, concurrent: int) -> dict[str, float]:
    """One size on a fresh database: the service and a worker started, the campaign driven, everything stopped."""
    fake = asyncio.run(TwilioFake().start())
    answering = Answering(fake, seed=contacts)
    fake.on_call = answering
    port, secret = free_port(), "b" * 48
    # The worker logs JSON lines at WARNING into worker_log: among them, the late dials it gave back.
    with fresh_database(server_url, "w6_dialer_bench") as dsn, tempfile.TemporaryFile() as worker_log:
        env = dict(
            os.environ,
            DATABASE_URL=dsn,
            JWT_SECRET=secret,
            LOG_LEVEL="WARNING",
            PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
            TWILIO_ACCOUNT_SID=ACCOUNT_SID,
            TWILIO_AUTH_TOKEN=AUTH_TOKEN,
            TWILIO_PHONE_NUMBER=CALLER_ID,
            TWILIO_API_BASE_URL=fake.base_url,
        )
        cmd = [str(BIN / "reachimpact"), "serve", "--port", str(port), "--workers", "1"]
        server = start_server(cmd, port, env)  # it migrates the database
        worker = subprocess.Popen(
            [str(BIN / "reachimpact"), "worker", "--concurrency", "20"],
            env={**env, "LOG_FORMAT": "json"},
            stdout=worker_log,
            stderr=worker_log,
            start_new_session=True,
        )
        try:
            result = asyncio.run(drive(dsn, f"http://127.0.0.1:{port}", worker.pid, contacts, rate, concurrent, secret))
        finally:
            for process in (worker, server):
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(30)
            asyncio.run(fake.stop())  # its loop ends with the answering session, which the process exit closes
        worker_log.seek(0)
        late = [json.loads(line) for line in worker_log if b"woke too late" in line]
    phones, elapsed, cpu = result.pop("phones"), result["elapsed"], result.pop("cpu")
    times = sorted(moment for moment, _ in fake.dial_log)
    gaps = [b - a for a, b in itertools.pairwise(times[1:])]
    achieved = (len(times) - 2) / (times[-1] - times[1])
    return {
        "contacts": contacts,
        "dials": len(times),
        "achieved": achieved,
        "ratio": achieved / rate,
        "busiest_second": busiest(times, 1.0),
        "busiest_10s_rate": busiest(times, 10.0) / 10,
        "gap_p50_ms": percentile(gaps, 0.5) * 1000,
        "gap_p99_ms": percentile(gaps, 0.99) * 1000,
        "double_dialed_numbers": sum(1 for count in fake.dials.values() if count > 1),
        "never_dialed": len(set(phones) - set(fake.dials)),
        "cpu_ms_per_call": cpu / len(times) * 1000,
        "cpu_share": cpu / elapsed,
        "webhooks_refused": answering.refused,
        "late_dials_given_back": len(late),
        "late_p50_ms": percentile([entry["late_ms"] for entry in late], 0.5) if late else 0.0,
        **result,
    }


async def drive(
    dsn: str, origin: str, worker: int, contacts: int, rate: float, concurrent: int, secret: str
) -> dict[str, object]:
    """Make the campaign, start it, watch it to completion; the worker's CPU and memory meanwhile."""
    headers, phones = await prepare(dsn, contacts, secret, rate, concurrent)
    ids = headers.pop("contact_ids")
    base = f"{origin}/api/campaigns"
    async with aiohttp.ClientSession() as session:
        body = {"name": "Bench", "script": "Hello {{firstName}}.", "contactIds": ids}
        campaign = await api(session, "POST", base, headers, body)
        rules = {"callingStart": "00:00", "callingEnd": "23:59", "maxAttempts": 1, "machineDetection": True}
        rules |= {"voicemailAction": "message", "voicemailMessage": "Sorry we missed you."}
        await api(session, "PUT", f"{base}/{campaign['id']}/dialing", headers, rules)
        await asyncio.sleep(2)  # the worker is up and listening
        cpu_before, started = cpu_seconds(worker), time.monotonic()
        await api(session, "POST", f"{base}/{campaign['id']}/start", headers)
        peak_rss, reads, got = rss_kib(worker), [], {"status": "active"}
        while got["status"] != "completed":
            await asyncio.sleep(0.2)
            peak_rss = max(peak_rss, rss_kib(worker))
            if len(reads) < (time.monotonic() - started) / PROGRESS_EVERY:  # as often as a page would refresh
                read_at = time.perf_counter()
                got = await api(session, "GET", f"{base}/{campaign['id']}", headers)
                reads.append(time.perf_counter() - read_at)
            if time.monotonic() - started > contacts / rate * 3 + 120:
                raise SystemExit(f"not completed in time: {got['progress']}")
        elapsed, cpu = time.monotonic() - started, cpu_seconds(worker) - cpu_before
    connection = await asyncpg.connect(dsn)
    try:
        two_calls = await connection.fetchval(
            "SELECT count(*) FROM (SELECT contact_id FROM calls GROUP BY contact_id HAVING count(*) > 1) d"
        )
    finally:
        await connection.close()
    final = got["progress"]
    return {
        "phones": phones,
        "cpu": cpu,
        "elapsed": elapsed,
        "contacts_with_two_calls": two_calls,
        "peak_rss_mib": peak_rss / 1024,
        "progress_get_p50_ms": statistics.median(reads) * 1000,
        "progress_get_p99_ms": percentile(reads, 0.99) * 1000,
        "answered": final["answered"],
        "voicemail": final["voicemail"],
        "no_answer": final["noAnswer"],
        "failed": final["failed"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server-url", default="")
    parser.add_argument("--contacts", type=int, nargs="+", default=[10_000, 2_000])
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--concurrent", type=int, default=200)
    args = parser.parse_args()
    for contacts in args.contacts:
        result = run_one(args.server_url, contacts, args.rate, args.concurrent)
        print(" ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items()), flush=True)


if __name__ == "__main__":
    main()
