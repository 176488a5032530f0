"""The dialing engine: claims due contacts under the shared pacing, dials them, settles each attempt when it ends.

Never twice, by construction:
- A claim is one transaction: the account's pacing row locked (so every worker shares one budget of dial slots
  and one count of calls in progress), due targets taken FOR UPDATE SKIP LOCKED, each given its attempt's row in
  `calls` (credits reserved) and marked `dialing`. Two claimers never get the same contact; the database also
  refuses a second live call of one campaign to one contact (a unique partial index on calls).
- The dial goes out after that commit, outside any transaction. Twilio's sid is written in the one transaction
  that marks the attempt dialed.
- A claim whose dial has no sid after its lease (DIALER_LEASE_SECONDS: the worker died before or after sending,
  or the answer was lost) is reconciled: Twilio is asked for calls to that number since the claim; a call no row
  of ours holds is adopted, otherwise the attempt is given back (the contact is pending again, its attempt count
  unchanged). A dial is never sent later than DIALER_SEND_DEADLINE_SECONDS after its claim, and the HTTP request
  is bounded (TWILIO_TIMEOUT_SECONDS; the settings refuse a lease not longer than both), so nothing can still be
  on its way when the lease expires.
"""

from __future__ import annotations

import asyncio
import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import structlog

from service.calls.service import TERMINAL, CallService
from service.campaigns.service import CampaignsService
from service.config import Settings
from service.contacts.service import ContactsService
from service.credits.service import CreditsService
from service.dialer import hours, progress, repository
from service.dialer.clock import Clock, SystemClock
from service.dialer.scheduling import CampaignDialing
from service.errors import InsufficientCredits
from service.jobs import enqueue
from service.twilio import CallResource, TwilioClient, TwilioError, TwilioNotConfigured

log = structlog.get_logger("dialer")

# Dial slots are claimed this far ahead, then each dial waits for its slot: few claims, evenly spaced dials. The
# next claim comes when half of it is left, so a claim may take up to a second (a busy database: it waits for the
# owner's row to reserve credits) before a slot passes unused. Measured at 50/s under load: 1 s gave 0.71-0.87 of
# the rate, 2 s 0.99.
SLOT_HORIZON = timedelta(seconds=2)
MAX_CLAIM = 100
# A claim's first slot is at least this far after its attempts are written: time to commit and start the dials.
COMMIT_LEAD = timedelta(milliseconds=20)
# A pump with nothing due this soon hands over to a job queued for when there is.
IDLE_HANDOVER = timedelta(seconds=30)
# After a 429 nobody on the account dials for this long.
BACKOFF = timedelta(seconds=1)
# The longest a pump sleeps between claims, so a pause takes effect within it.
PAUSE_REACTION_SECONDS = 0.5
# While every slot of concurrency is taken, a pump looks again this often.
FULL_POLL_SECONDS = 0.05
RECONCILE_EVERY = timedelta(seconds=5)
RETRIED = ("busy", "no-answer", "failed")
# A dialed attempt still open this long after its claim may have lost its end-of-call webhook: Twilio is asked.
SILENT_AFTER = timedelta(minutes=10)
SILENT_BATCH = 200
# One pump per campaign holds a lease it renews on every round; a killed worker's runs out after this.
PUMP_LEASE = timedelta(seconds=10)


@dataclass(frozen=True, slots=True)
class Attempt:
    call_id: uuid.UUID
    campaign_id: uuid.UUID
    contact_id: uuid.UUID
    owner: uuid.UUID
    phone: str
    slot: datetime
    # Sent no later than this (its slot plus one slot interval, at most the send deadline after the claim), or not at
    # all: a dial that goes out late lands beside the next slot's and the account exceeds its rate.
    send_by: datetime
    machine_detection: bool
    wait_for_beep: bool


@dataclass(frozen=True, slots=True)
class Claim:
    attempts: list[Attempt]
    # Seconds until a claim could give more; None: the campaign is not active (stop).
    wait: float | None


def window_of(rules: asyncpg.Record) -> hours.Window:
    return hours.Window(rules["calling_start"], rules["calling_end"], frozenset(rules["calling_days"]))


class Dialer:
    def __init__(
        self,
        pool: asyncpg.Pool,
        settings: Settings,
        twilio: TwilioClient,
        calls: CallService,
        campaigns: CampaignsService,
        clock: Clock | None = None,
    ) -> None:
        self.pool = pool
        self.settings = settings
        self.twilio = twilio
        self.calls = calls
        self.campaigns = campaigns
        self.clock = clock or SystemClock()
        self.lease = timedelta(seconds=settings.dialer_lease_seconds)
        self.send_deadline = timedelta(seconds=settings.dialer_send_deadline_seconds)
        # Twilio's limits are per account; the pacing row is keyed by it.
        self.account = settings.twilio_account_sid or "unconfigured"

    def url(self, path: str) -> str:
        return f"{self.settings.public_base_url}{path}"

    # -- the pump: one per campaign at a time, in whichever worker holds its lease --------------------------------
    async def run(self, campaign_id: uuid.UUID) -> None:
        """Dial the campaign's due contacts until it is paused or nothing is due soon; then hand over."""
        try:
            self.twilio.require(caller_id=True)
        except TwilioNotConfigured as exc:
            log.warning("dialer idle: Twilio is not configured", error=str(exc))
            return  # dialer.reconcile queues a pump again every minute
        holder = uuid.uuid4()
        while True:
            now = self.clock.now()
            held_until = await repository.take_pump(self.pool, campaign_id, holder, now, now + PUMP_LEASE)
            if held_until is not None:
                # Another pump runs it (it re-checks after letting go), or a dead one's lease has yet to run out.
                async with self.pool.acquire() as connection, connection.transaction():
                    await self.queue_pump(connection, campaign_id, at=held_until, key="lease")
                return
            try:
                handover = await self._pump(campaign_id, holder)
            finally:
                await repository.drop_pump(self.pool, campaign_id, holder)
            # Let go first, then look: work that arrived while another pump bounced off the lease is seen here.
            async with self.pool.acquire() as connection:
                if await repository.campaign_status(connection, campaign_id) != "active":
                    return
                pending, due = await repository.next_due(connection, campaign_id)
                if not pending:
                    return
                if due is not None and due - self.clock.now() > IDLE_HANDOVER:
                    async with connection.transaction():
                        await self.queue_pump(connection, campaign_id, at=handover or due)
                    return

    async def queue_pump(
        self, connection: asyncpg.Connection, campaign_id: uuid.UUID, *, at: datetime, key: str = "at"
    ) -> None:
        """A pump job for `at` (one per campaign, minute and reason: a duplicate only bounces off the lease)."""
        minute = int(at.timestamp()) // 60
        await enqueue(
            connection,
            "dialer.run",
            {"campaignId": str(campaign_id)},
            dedupe_key=f"dialer.run:{campaign_id}:{key}:{minute}",
            run_after=max(timedelta(0), at - self.clock.now()),
        )

    async def _pump(self, campaign_id: uuid.UUID, holder: uuid.UUID) -> datetime | None:
        tasks: set[asyncio.Task[None]] = set()
        stopped = asyncio.Event()  # the campaign is no longer active: dials still waiting for their slot are given back
        reconciled_at: datetime | None = None
        try:
            while True:
                now = self.clock.now()
                if await repository.take_pump(self.pool, campaign_id, holder, now, now + PUMP_LEASE) is not None:
                    log.warning("pump lease lost (this worker stalled); another pump carries on")
                    return None
                if reconciled_at is None or now - reconciled_at > RECONCILE_EVERY:
                    await self.reconcile(campaign_id)
                    reconciled_at = now
                claim = await self.claim(campaign_id)
                if claim.wait is None:
                    stopped.set()
                    return None
                for attempt in claim.attempts:
                    task = asyncio.create_task(self.dial(attempt, stopped))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                if claim.wait > IDLE_HANDOVER.total_seconds():
                    return now + timedelta(seconds=claim.wait)
                await self.clock.sleep(min(claim.wait, PAUSE_REACTION_SECONDS))
        finally:
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)

    # -- claiming ------------------------------------------------------------------------------------------------
    async def claim(self, campaign_id: uuid.UUID) -> Claim:
        try:
            return await self._claim(campaign_id)
        except InsufficientCredits as exc:
            await self._pause_for_credits(campaign_id, exc)
            return Claim([], None)

    async def _claim(self, campaign_id: uuid.UUID) -> Claim:
        async with self.pool.acquire() as connection, connection.transaction():
            campaign = await self.campaigns.running(connection, campaign_id)
            if campaign is None or campaign["status"] != "active":
                return Claim([], None)
            pacing = await repository.lock_pacing(connection, self.account)
            now = self.clock.now()  # a claim that queued behind others for the lock counts its slots from here
            interval = 1.0 / pacing["calls_per_second"]
            first_slot = max(now, pacing["next_slot_at"], pacing["backoff_until"] or now)
            ahead = (now + SLOT_HORIZON - first_slot).total_seconds()
            slots = math.floor(ahead / interval) + 1 if ahead >= 0 else 0
            room = pacing["max_concurrent"] - await repository.in_flight(connection)
            wanted = min(slots, room, MAX_CLAIM)
            if wanted <= 0:
                wait = FULL_POLL_SECONDS if room <= 0 else -ahead
                return Claim([], max(wait, FULL_POLL_SECONDS))
            rules = await repository.ensure_rules(connection, campaign_id)
            window = window_of(rules)
            due = await repository.due_targets(connection, campaign_id, now, wanted)
            dialable: list[asyncpg.Record] = []
            for target in due:
                contact_id = target["contact_id"]
                if target["refusal"]:
                    await repository.skip(connection, campaign_id, contact_id, target["refusal"])
                    continue
                zones = hours.contact_zones(target["timezone"], target["phone"])
                opening = hours.next_opening(now, zones, window)
                if opening is None:  # no zone to judge the hours by, or zones whose windows never overlap
                    reason = "no_calling_hours" if zones else "no_timezone"
                    await repository.skip(connection, campaign_id, contact_id, reason)
                    continue
                if opening > now:  # outside the contact's hours: wait for the window, never early
                    await repository.postpone(connection, campaign_id, contact_id, opening)
                    continue
                dialable.append(target)
            if dialable:
                leave_message = rules["machine_detection"] and rules["voicemail_action"] == "message"
                message = rules["voicemail_message"] if leave_message else None
                # Every attempt of the claim in a few round trips, not a few per contact: the claim holds the
                # account's pacing lock, and a slow one starves the dial slots of every campaign.
                call_ids = await self.calls.record_attempts(
                    connection, campaign["user_id"], campaign, [(t, t["attempts"] + 1, message) for t in dialable]
                )
                # Fewer when the balance covers only the first ones: the rest stay pending (the next claim pauses).
                claimed = list(zip(dialable, call_ids, strict=False))
                await repository.mark_dialing(connection, campaign_id, [(t["contact_id"], c) for t, c in claimed], now)
                # The slots are handed out now that the attempts are written, from this moment (plus the commit):
                # timed from the lock, the first ones would have passed while a large claim was written, and been
                # given back as late. The pacing row stays locked, so nobody took them meanwhile.
                first_slot = max(self.clock.now() + COMMIT_LEAD, first_slot)
                attempts = [
                    Attempt(
                        call_id=call_id,
                        campaign_id=campaign_id,
                        contact_id=target["contact_id"],
                        owner=campaign["user_id"],
                        phone=target["phone"],
                        slot=first_slot + timedelta(seconds=interval * index),
                        # the end of its slot's interval, where the next slot begins
                        send_by=min(first_slot + timedelta(seconds=interval * (index + 1)), now + self.send_deadline),
                        machine_detection=rules["machine_detection"],
                        wait_for_beep=leave_message,
                    )
                    for index, (target, call_id) in enumerate(claimed)
                ]
                next_slot = first_slot + timedelta(seconds=interval * len(attempts))
                await repository.take_slots(connection, self.account, next_slot)
                await progress.schedule(connection, campaign_id)  # "dialed" moves: the owner sees it within a second
                # The next claim once half the horizon is left: a few slots a claim instead of one each time, so
                # claims stay few (each locks the account's pacing row and the owner's credits).
                return Claim(attempts, max((next_slot - self.clock.now() - SLOT_HORIZON / 2).total_seconds(), 0.0))
            if due:  # all skipped or postponed: look again at once
                return Claim([], 0.0)
            pending, next_at = await repository.next_due(connection, campaign_id)
            if not pending:
                unsent = await repository.oldest_unsent_claim(connection, campaign_id)
                if unsent is not None:  # a dead worker's claim: stay to reconcile it when its lease ends
                    return Claim([], max((unsent + self.lease - now).total_seconds(), 0.0) + FULL_POLL_SECONDS)
                if await self.finish_if_done(connection, campaign_id):  # everyone skipped, say
                    await progress.publish(connection, campaign_id)
                return Claim([], IDLE_HANDOVER.total_seconds() + 1)
            return Claim([], max(((next_at or now) - now).total_seconds(), FULL_POLL_SECONDS))

    async def _pause_for_credits(self, campaign_id: uuid.UUID, exc: InsufficientCredits) -> None:
        async with self.pool.acquire() as connection, connection.transaction():
            if await self.campaigns.stop_running(connection, campaign_id, "paused"):
                log.warning("campaign paused: out of credits", campaign_id=str(campaign_id), error=str(exc))
                await progress.publish(connection, campaign_id, reason="insufficient_credits")

    # -- dialing -------------------------------------------------------------------------------------------------
    async def dial(self, attempt: Attempt, stopped: asyncio.Event | None = None) -> None:
        if not await self._slot_reached(attempt, stopped):
            await self.give_back(attempt.call_id)
            return
        try:
            placed = await self.twilio.place_call(
                attempt.phone,
                twiml_url=self.url(f"/api/twilio/twiml?callId={attempt.call_id}"),
                status_callback=self.url("/api/calls/status"),
                machine_detection=attempt.machine_detection,
                wait_for_beep=attempt.wait_for_beep,
            )
        except TwilioNotConfigured:
            await self.give_back(attempt.call_id)
            return
        except TwilioError as exc:
            await self._refused(attempt, exc)
            return
        async with self.pool.acquire() as connection, connection.transaction():
            if await repository.lock_attempt(connection, attempt.call_id) is not None:
                await self.calls.dialed(connection, attempt.owner, attempt.call_id, placed)
            else:  # cannot happen within the request timeout; say so loudly if it ever does
                log.error("a dial was answered after its lease", call_id=str(attempt.call_id), sid=placed.sid)

    async def _slot_reached(self, attempt: Attempt, stopped: asyncio.Event | None) -> bool:
        """Waits for the attempt's slot. False when it must not go out: the campaign was paused or completed
        meanwhile, or this worker woke after `send_by` (stalled: sending it now would bunch with the next slots,
        and past the send deadline a reconciliation might not see it; logged, as a stalled worker is worth knowing)."""
        sleeping = asyncio.ensure_future(self.clock.sleep((attempt.slot - self.clock.now()).total_seconds()))
        waits: set[asyncio.Future[Any]] = {sleeping}
        if stopped is not None:
            waits.add(asyncio.ensure_future(stopped.wait()))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
        if stopped is not None and stopped.is_set():
            return False
        now = self.clock.now()
        if now > attempt.send_by:
            late_ms = round((now - attempt.slot).total_seconds() * 1000, 1)
            log.warning("dial given back: the worker woke too late for its slot", late_ms=late_ms)
            return False
        return True

    async def _refused(self, attempt: Attempt, exc: TwilioError) -> None:
        if exc.status == 429:  # Twilio's rate limit: back off for everyone; not an attempt
            async with self.pool.acquire() as connection, connection.transaction():
                await repository.back_off(connection, self.account, self.clock.now() + BACKOFF)
            await self.give_back(attempt.call_id)
            log.info("twilio 429: backing off", seconds=BACKOFF.total_seconds())
        elif exc.status >= 500:
            # The request may have reached Twilio (a timeout, a lost answer): reconciliation decides after the lease.
            log.warning("dial outcome unknown; will reconcile", call_id=str(attempt.call_id), error=exc.message)
        else:  # refused outright (an invalid number, ...): a failed attempt
            log.warning("twilio refused a dial", call_id=str(attempt.call_id), code=exc.code, error=exc.message)
            async with self.pool.acquire() as connection, connection.transaction():
                target = await repository.lock_attempt(connection, attempt.call_id)
                if target is not None:
                    await self.calls.fail_attempt(connection, attempt.call_id, target["credit_reservation_id"])
                    await self._settle(connection, target, "failed")

    async def give_back(self, call_id: uuid.UUID) -> None:
        """The attempt never left: its call row goes (credits refunded) and the contact is due again."""
        async with self.pool.acquire() as connection, connection.transaction():
            target = await repository.lock_attempt(connection, call_id)
            if target is None:
                return
            await repository.release(connection, target["campaign_id"], target["contact_id"], self.clock.now())
            await self.calls.void_attempt(connection, call_id, target["credit_reservation_id"])

    # -- after a call ends ---------------------------------------------------------------------------------------
    async def call_ended(self, call_id: uuid.UUID) -> None:
        """Runs once the call is terminal (a job queued by the status webhook); a second run changes nothing."""
        async with self.pool.acquire() as connection, connection.transaction():
            target = await repository.lock_attempt(connection, call_id)
            if target is None or target["status"] not in TERMINAL:
                return
            retry_at = await self._settle(connection, target, target["status"])
            if retry_at is not None:
                await self.queue_pump(connection, target["campaign_id"], at=retry_at)

    async def _settle(self, connection: asyncpg.Connection, target: asyncpg.Record, status: str) -> datetime | None:
        """Done, or pending again after the retry delay (busy, no-answer, failed, while attempts remain)."""
        campaign_id = target["campaign_id"]
        rules = await repository.ensure_rules(connection, campaign_id)
        retry_at = None
        campaign_status = await repository.campaign_status(connection, campaign_id)
        if status in RETRIED and target["attempts"] < rules["max_attempts"] and campaign_status != "completed":
            retry_at = self.clock.now() + timedelta(seconds=rules["retry_delay_seconds"])
        await repository.settle(connection, campaign_id, target["contact_id"], retry_at)
        if retry_at is None and await self.finish_if_done(connection, campaign_id):
            await progress.publish(connection, campaign_id)
        else:
            await progress.schedule(connection, campaign_id)
        return retry_at

    async def finish_if_done(self, connection: asyncpg.Connection, campaign_id: uuid.UUID) -> bool:
        """An active campaign with nobody left to call or in a call becomes completed. Looked at cheaply first,
        then again under the campaign's lock (a member added meanwhile keeps it running)."""
        if await repository.anything_left(connection, campaign_id):
            return False
        return await self.campaigns.stop_running(
            connection, campaign_id, "completed", unless=lambda: repository.anything_left(connection, campaign_id)
        )

    # -- reconciliation ------------------------------------------------------------------------------------------
    async def reconcile(self, campaign_id: uuid.UUID | None = None) -> int:
        """Settle claims without a sid older than the lease against Twilio; how many were settled."""
        stale = await repository.unsent_claims(self.pool, self.clock.now() - self.lease, campaign_id)
        for claim in stale:
            try:
                found = await self.twilio.calls_to(claim["phone_number"], claim["claimed_at"] - timedelta(days=1))
            except (TwilioError, TwilioNotConfigured) as exc:
                log.warning("cannot reconcile now; later", call_id=str(claim["call_id"]), error=str(exc))
                continue
            await self._reconciled(claim, found)
        return len(stale)

    async def _reconciled(self, claim: asyncpg.Record, found: list[CallResource]) -> None:
        since = claim["claimed_at"] - timedelta(minutes=1)  # the clocks of Twilio and ours may differ a little
        candidates = [c for c in found if c.created_at is None or c.created_at >= since]
        async with self.pool.acquire() as connection, connection.transaction():
            target = await repository.lock_attempt(connection, claim["call_id"])
            if target is None or target["twilio_sid"] is not None:
                return  # settled meanwhile
            ours = await repository.unknown_sids(connection, [c.sid for c in candidates])
            adopted = [c for c in candidates if c.sid in ours]
            if adopted:
                call = min(adopted, key=lambda c: c.created_at or claim["claimed_at"])
                log.warning("reconciled: the dial had left", call_id=str(claim["call_id"]), sid=call.sid)
                await self.calls.dialed(connection, target["user_id"], claim["call_id"], call)
                return
        log.warning("reconciled: the dial never left; due again", call_id=str(claim["call_id"]))
        await self.give_back(claim["call_id"])

    async def check_silent_calls(self) -> int:
        """Attempts dialed more than SILENT_AFTER ago and still open: Twilio's status of each is fetched and, when
        the call is over, applied as its lost end-of-call webhook would have been (credits, retry or done). A call
        still in progress is asked about again on the next round. How many were found over."""
        silent = await repository.silent_attempts(self.pool, self.clock.now() - SILENT_AFTER, SILENT_BATCH)
        ended = 0
        for attempt in silent:
            try:
                call = await self.twilio.fetch_call(attempt["twilio_sid"])
            except (TwilioError, TwilioNotConfigured) as exc:
                log.warning("cannot fetch a silent call now; later", call_id=str(attempt["call_id"]), error=str(exc))
                continue
            if call.status not in TERMINAL:
                continue
            async with self.pool.acquire() as connection, connection.transaction():
                if await repository.lock_attempt(connection, attempt["call_id"]) is not None:
                    log.warning("end-of-call webhook lost; status fetched", call_id=str(attempt["call_id"]))
                    await self.calls.apply_fetched(connection, attempt["call_id"], call)
                    ended += 1
        return ended

    async def ensure_pumps(self) -> int:
        """Every active campaign with contacts due has a pump (the safety net behind the jobs' own hand-overs)."""
        async with self.pool.acquire() as connection, connection.transaction():
            campaigns = await repository.campaigns_with_due_work(connection, self.clock.now())
            for campaign_id in campaigns:
                await self.queue_pump(connection, campaign_id, at=self.clock.now())
        return len(campaigns)


def dialer_of(ctx: Any) -> Dialer:
    """The dialer of a job, built from the worker's pool, settings and Twilio client that hands 429s back (see
    jobs.clients), with the services it works through, as the app's lifespans build them."""
    return build_dialer(ctx.pool, ctx.settings, ctx.clients["twilio_dialer"])


def build_dialer(pool: asyncpg.Pool, settings: Settings, twilio: TwilioClient, clock: Clock | None = None) -> Dialer:
    campaigns = CampaignsService(pool, CampaignDialing(pool))
    contacts = ContactsService(pool, settings.default_phone_region)
    calls = CallService(pool, settings, twilio, CreditsService(), contacts, campaigns)
    return Dialer(pool, settings, twilio, calls, campaigns, clock)
