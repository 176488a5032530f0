#!/usr/bin/env python3
"""Webhook ingestion: signed Twilio status callbacks at wrk rates against one process.

    .venv/bin/python bench/webhooks.py [--database-url URL] [--seconds 10] [--calls 2000] [--connections 32]

Starts `reachimpact serve --workers 1` on a fresh database, records `--calls` dialed calls, and signs the four
status callbacks of each (initiated, ringing, in-progress, completed) with Twilio's algorithm. The callbacks are
sent by wrk, every one twice and in shuffled order (so late and duplicate deliveries are the norm), cycling over
the list for `--seconds`. Then it checks every call: final state completed with its duration, and each
(CallSid, SequenceNumber) stored exactly once. Prints callbacks/s, p50/p99 and both checks. Needs wrk.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import signal
import tempfile
import uuid
from urllib.parse import urlencode

import asyncpg
from harness import BIN, free_port, fresh_database, start_server, wrk
from twilio.request_validator import RequestValidator

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = secrets.token_hex(16)
STATUSES = ("initiated", "ringing", "in-progress", "completed")

LUA = """
local bodies = {%s}
local signatures = {%s}
local i = 0
request = function()
  i = i %% #bodies + 1
  return wrk.format("POST", "/api/calls/status", {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["X-Twilio-Signature"] = signatures[i],
  }, bodies[i])
end
"""


def lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


async def arrange(dsn: str, calls: int) -> list[str]:
    connection = await asyncpg.connect(dsn)
    try:
        user_id = uuid.uuid4()
        await connection.execute("INSERT INTO users (id, email, credits) VALUES ($1, 'bench@example.com', 0)", user_id)
        sids = ["CA" + secrets.token_hex(16) for _ in range(calls)]
        await connection.copy_records_to_table(
            "calls",
            records=[(uuid.uuid4(), user_id, sid, "+14155550100") for sid in sids],
            columns=["id", "user_id", "twilio_sid", "phone_number"],
        )
        return sids
    finally:
        await connection.close()


async def verify(dsn: str, calls: int) -> tuple[int, int]:
    """(calls not in their right final state, status callbacks stored other than exactly once)."""
    connection = await asyncpg.connect(dsn)
    try:
        wrong = await connection.fetchval(
            "SELECT count(*) FROM calls WHERE status <> 'completed' OR duration_seconds <> 42 "
            "OR last_sequence_number <> 3"
        )
        stored = await connection.fetchval("SELECT count(*) FROM call_events WHERE event_type = 'status'")
        return wrong, abs(stored - calls * len(STATUSES))
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()

    with fresh_database(args.database_url, "bench_webhooks") as dsn:
        run(dsn, args)


def run(dsn: str, args: argparse.Namespace) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(
        os.environ,
        DATABASE_URL=dsn,
        LOG_LEVEL="WARNING",
        JWT_SECRET=secrets.token_urlsafe(48),
        PUBLIC_BASE_URL=base,
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_PHONE_NUMBER="+15005550006",
    )
    service = start_server([str(BIN / "reachimpact"), "serve", "--port", str(port), "--workers", "1"], port, env)
    try:
        sids = asyncio.run(arrange(dsn, args.calls))
        validator = RequestValidator(AUTH_TOKEN)
        url = f"{base}/api/calls/status"
        deliveries = []
        for sid in sids:
            for sequence, status in enumerate(STATUSES):
                params = {"AccountSid": ACCOUNT_SID, "CallSid": sid, "CallStatus": status,
                          "SequenceNumber": str(sequence), "To": "+14155550100", "From": "+15005550006"}  # fmt: skip
                if status == "completed":
                    params["CallDuration"] = "42"
                deliveries += [(urlencode(params), validator.compute_signature(url, params))] * 2
        random.Random(7).shuffle(deliveries)
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(
                LUA % (",".join(lua_string(b) for b, _ in deliveries), ",".join(lua_string(s) for _, s in deliveries))
            )
        # One thread: it walks the whole shuffled list in order, so every callback is sent at least once.
        figures = wrk(url, args.seconds, threads=1, connections=args.connections, script=script.name)
        wrong, misstored = asyncio.run(verify(dsn, args.calls))
    finally:
        os.killpg(service.pid, signal.SIGTERM)
        service.wait(30)
    sent = figures["rate"] * args.seconds
    print(f"callbacks: {len(deliveries)} in the list ({args.calls} calls x 4 statuses x 2), ~{sent:.0f} sent")
    print(f"rate {figures['rate']:.0f}/s  p50 {figures['p50']:.1f} ms  p99 {figures['p99']:.1f} ms")
    if sent < len(deliveries):
        print("WARNING: the run ended before every callback was sent once; use more --seconds or fewer --calls")
    print(f"wrong final states: {wrong}   status callbacks not stored exactly once: {misstored}")


if __name__ == "__main__":
    main()
