"""Call and SMS rules: who may be called, credits before dialing, the webhook state machine, opt-outs.

A call is recorded with its credits reserved in one transaction, dialed outside any transaction (no database
lock waits on Twilio), then either given its sid or, when Twilio refuses, removed with its credits refunded.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import asyncpg
import msgspec
import phonenumbers

from service.calls import repository
from service.calls.schemas import CallIn, CallOut, CallStatusOut, SmsIn, SmsOut
from service.calls.twiml import fill_placeholders
from service.campaigns.service import CampaignsService
from service.config import Settings
from service.contacts.schemas import ContactOut
from service.contacts.service import ContactsService
from service.credits.service import CreditsService
from service.errors import (
    Conflict,
    Forbidden,
    InsufficientCredits,
    NotFound,
    ServiceUnavailable,
    UpstreamFailed,
    ValidationFailed,
)
from service.jobs import enqueue
from service.phones import e164, parse_phone
from service.realtime import publish
from service.twilio import CallResource, TwilioClient, TwilioError, TwilioNotConfigured, signature_is_valid

# Twilio's final statuses: a call in one of them is over (the dialer settles its attempt then).
TERMINAL = repository.TERMINAL
# A dialer attempt to record: (the contact, its attempt number, the voicemail message to leave or None).
Attempted = tuple[Mapping[str, Any], int, str | None]
# Labels the SPA's pages show, from the outcome when one is known, else from Twilio's status (docs/calls.md).
OUTCOME_LABELS = {
    "appointment_set": "Appointment Set",
    "callback": "Callback",
    "voicemail": "Voicemail",
    "no_answer": "No Answer",
    "interested": "Interested",
    "not_interested": "Not Interested",
    "other": "Completed",
}
STATUS_LABELS = {
    "queued": "Queued",
    "initiated": "Queued",
    "ringing": "Ringing",
    "in-progress": "In Progress",
    "completed": "Completed",
    "busy": "Busy",
    "failed": "Failed",
    "no-answer": "No Answer",
    "canceled": "Canceled",
}
# A label the SPA posts for a finished call -> (Twilio status, outcome).
LOGGED_LABELS = {
    "completed": ("completed", None),
    "no answer": ("no-answer", "no_answer"),
    "appointment set": ("completed", "appointment_set"),
    "callback": ("completed", "callback"),
    "voicemail": ("completed", "voicemail"),
    "busy": ("busy", None),
    "failed": ("failed", None),
}
# Twilio errors that mean the number cannot take our messages: unsubscribed, blocked, unknown, not mobile.
UNREACHABLE_ERRORS = {21610, 30004, 30005, 30006}
OPT_OUT_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "END", "QUIT", "REVOKE", "OPTOUT", "CANCEL"}
OPT_IN_WORDS = {"START", "UNSTOP"}


def label(status: str, outcome: str | None) -> str:
    return OUTCOME_LABELS.get(outcome or "") or STATUS_LABELS.get(status, status)


def call_out(row: asyncpg.Record) -> CallOut:
    values = dict(row)
    values["sid"] = values.pop("twilio_sid")
    values["twilio_status"] = values["status"]
    values["status"] = label(row["status"], row["outcome"])
    return CallOut(**values)


def status_out(row: asyncpg.Record, caller_id: str) -> CallStatusOut:
    return CallStatusOut(
        id=row["id"],
        sid=row["twilio_sid"],
        status=row["status"],
        duration=row["duration"],
        direction=row["direction"],
        from_=caller_id,
        to=row["phone_number"],
        start_time=row["started_at"],
        end_time=row["ended_at"],
        contact_id=row["contact_id"],
        campaign_id=row["campaign_id"],
    )


def owned_id(raw: str | int | None, what: str) -> uuid.UUID | None:
    if raw is None:
        return None
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        raise NotFound(what) from None


def phone_or_400(raw: str, region: str) -> str:
    number = parse_phone(raw, region)
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValidationFailed.field("phoneNumber", f"{raw!r} is not a valid phone number")
    return e164(number)


def upstream(exc: TwilioError) -> UpstreamFailed:
    suffix = f" (Twilio error {exc.code})" if exc.code else ""
    return UpstreamFailed("twilio", f"Twilio refused the request: {exc.message}{suffix}")


class CallService:
    """One owner's calls and messages, and Twilio's webhooks about them. Built once at start-up
    (service/calls/runtime.py); the contacts and campaigns it dials are read through their own services."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        settings: Settings,
        twilio: TwilioClient,
        credits: CreditsService,
        contacts: ContactsService,
        campaigns: CampaignsService,
    ) -> None:
        self.pool = pool
        self.settings = settings
        self.twilio = twilio
        self.credits = credits
        self.contacts = contacts
        self.campaigns = campaigns

    def url(self, path: str) -> str:
        return f"{self.settings.public_base_url}{path}"

    @property
    def caller_id(self) -> str:
        """The number calls and messages come from (the older pages show it)."""
        return self.settings.twilio_phone_number

    def check_signature(self, path_and_query: str, params: Mapping[str, str], signature: str | None) -> None:
        """A webhook is Twilio's only if X-Twilio-Signature signs the public URL it was given and the form."""
        if not self.settings.twilio_auth_token:
            raise ServiceUnavailable("Twilio is not configured on this server: set TWILIO_AUTH_TOKEN")
        # Behind a proxy the request's own URL is the internal one; Twilio signed the public one.
        url = self.settings.public_base_url + path_and_query
        if not signature_is_valid(self.settings.twilio_auth_token, url, params, signature):
            raise Forbidden("Invalid Twilio signature", code="invalid_signature")

    def require_twilio(self, *, caller_id: bool = False) -> None:
        try:
            self.twilio.require(caller_id=caller_id)
        except TwilioNotConfigured as exc:
            raise ServiceUnavailable(str(exc), code="twilio_not_configured") from None

    async def _dialable(
        self, owner: uuid.UUID, contact_id: uuid.UUID | None, raw_phone: str | None
    ) -> tuple[ContactOut | None, str]:
        """The caller's own contact and the E.164 number to reach, refused when opted out or do-not-call."""
        contact = await self.contacts.get(owner, contact_id) if contact_id else None  # another's: 404
        raw = raw_phone or (contact.phone if contact else None)
        if not raw:
            raise ValidationFailed.field("phoneNumber", "required", message="phoneNumber is required")
        phone = phone_or_400(raw, self.settings.default_phone_region)
        reason = await repository.refusal(self.pool, owner, phone)
        if reason:
            raise Conflict(reason, code="do_not_contact")
        return contact, phone

    # -- calls ------------------------------------------------------------------------------------------------------
    async def list(
        self, owner: uuid.UUID, *, contact_id: uuid.UUID | None = None, campaign_id: uuid.UUID | None = None,
        after: tuple[Any, uuid.UUID] | None = None, limit: int,
    ) -> list[asyncpg.Record]:  # fmt: skip
        """A filter naming another user's contact or campaign is 404, like any of their ids."""
        if contact_id:
            await self.contacts.get(owner, contact_id)
        if campaign_id:
            await self.campaigns.require(owner, campaign_id)
        return await repository.list_page(
            self.pool, owner, contact_id=contact_id, campaign_id=campaign_id, after=after, limit=limit
        )

    async def get(self, owner: uuid.UUID, key: str) -> asyncpg.Record:
        row = await repository.get_by_sid_or_id(self.pool, owner, key)
        if row is None:
            raise NotFound("Call")
        return row

    async def place(self, owner: uuid.UUID, data: CallIn) -> asyncpg.Record:
        self.require_twilio(caller_id=True)
        contact_id = owned_id(data.contact_id, "Contact")
        campaign_id = owned_id(data.campaign_id, "Campaign")
        contact, phone = await self._dialable(owner, contact_id, data.phone_number)
        campaign = await self.campaigns.get(owner, campaign_id) if campaign_id else None
        script = data.script or (campaign.script if campaign else None)
        filled = twiml_fill(script, contact) if script else None
        language = data.language or (campaign.language if campaign else None)
        async with self.pool.acquire() as connection, connection.transaction():
            reservation = await self.credits.reserve(connection, owner, self.settings.call_credits, "call")
            call_id = await repository.insert_call(
                connection,
                owner,
                {
                    "contact_id": contact_id,
                    "campaign_id": campaign_id,
                    "phone_number": phone,
                    "language": language,
                    "script": filled,
                    "recording_enabled": data.recording_enabled,
                    "credit_reservation_id": reservation,
                },
            )
        try:
            placed = await self.twilio.place_call(
                phone,
                twiml_url=self.url(f"/api/twilio/twiml?callId={call_id}"),
                status_callback=self.url("/api/calls/status"),
                machine_detection=self.settings.twilio_machine_detection,
            )
        except (TwilioError, TwilioNotConfigured) as exc:
            # Nothing half-written: the call goes, its credits come back (the ledger keeps both moves).
            async with self.pool.acquire() as connection, connection.transaction():
                await self.credits.refund(connection, reservation)
                await repository.delete_call(connection, call_id)
            if isinstance(exc, TwilioNotConfigured):
                raise ServiceUnavailable(str(exc), code="twilio_not_configured") from None
            raise upstream(exc) from None
        async with self.pool.acquire() as connection, connection.transaction():
            await self.dialed(connection, owner, call_id, placed)
            return await repository.get(connection, owner, call_id)

    async def dialed(
        self, connection: asyncpg.Connection, owner: uuid.UUID, call_id: uuid.UUID, placed: CallResource
    ) -> None:
        """Twilio placed the call: its sid goes on the row (in the caller's transaction), with what came meanwhile.

        `placed.status` is what Twilio answered; a call found later (the dialer's reconciliation) may already be
        over, and then its end is applied like a callback would be (credits, the dialer's next step). A status in
        between is left to the callbacks, whose sequence numbers order it."""
        await repository.record_dialed(connection, call_id, placed.sid, "queued")
        # Callbacks that raced ahead of this write were stored unlinked; the newest one applies now, unless Twilio
        # says the call is over. One status change at most, published last (see _apply_status).
        early = await repository.adopt_early_events(connection, call_id, placed.sid)
        if placed.status in repository.TERMINAL:
            await self.apply_fetched(connection, call_id, placed)
        elif early:
            await self._apply_status(connection, call_id, early[0])
        else:
            event = {"id": str(call_id), "sid": placed.sid, "status": "queued"}
            await publish(connection, [owner], "call.status", event)

    async def apply_fetched(self, connection: asyncpg.Connection, call_id: uuid.UUID, call: CallResource) -> None:
        """A call's status as fetched from Twilio, applied when it is over as its end-of-call webhook would be (a
        webhook that came after all, or comes later, changes nothing: the state machine takes a final state once)."""
        if call.status in repository.TERMINAL:
            params = {"CallStatus": call.status, "CallDuration": str(call.duration or 0)}
            if call.answered_by:
                params["AnsweredBy"] = call.answered_by
            await self._apply_status(connection, call_id, params)

    # -- the dialer's attempts (service/dialer): the same rows, credits and webhooks as a call placed here --------
    async def record_attempts(
        self, connection: asyncpg.Connection, owner: uuid.UUID, campaign: Mapping[str, Any], attempts: list[Attempted]
    ) -> list[uuid.UUID]:
        """A dialer claim's calls to its contacts, credits reserved, not dialed yet (in the claim's transaction):
        their ids, in order. Each `Attempted` has the contact (its id, phone and the script's placeholders:
        first_name, last_name, full_name, company, email), its attempt number and the voicemail message to leave.
        A balance short of them all records the first ones it covers; InsufficientCredits when it covers none."""
        price = self.settings.call_credits
        try:
            reservations = await self.credits.reserve_many(connection, owner, price, "call", len(attempts))
        except InsufficientCredits as short:
            affordable = short.balance // price  # a price of 0 is never short
            if not affordable:
                raise
            attempts = attempts[:affordable]
            reservations = await self.credits.reserve_many(connection, owner, price, "call", affordable)
        return await repository.insert_calls(
            connection,
            owner,
            [
                {
                    "contact_id": contact["contact_id"],
                    "campaign_id": campaign["id"],
                    "phone_number": contact["phone"],
                    "language": campaign["language"],
                    "script": fill_contact(campaign["script"], contact) if campaign["script"] else None,
                    "credit_reservation_id": reservation,
                    "dial_attempt": attempt,
                    "voicemail_message": voicemail_message,
                }
                for (contact, attempt, voicemail_message), reservation in zip(attempts, reservations, strict=True)
            ],
        )

    async def void_attempt(
        self, connection: asyncpg.Connection, call_id: uuid.UUID, reservation: uuid.UUID | None
    ) -> None:
        """The attempt never left: its row goes and its credits come back."""
        if reservation is not None:
            await self.credits.refund(connection, reservation)
        await repository.delete_call(connection, call_id)

    async def fail_attempt(
        self, connection: asyncpg.Connection, call_id: uuid.UUID, reservation: uuid.UUID | None
    ) -> None:
        """Twilio refused the dial outright: a failed call that costs nothing."""
        if reservation is not None:
            await self.credits.refund(connection, reservation)
        await repository.mark_failed(connection, call_id)

    async def log_finished(self, owner: uuid.UUID, data: CallIn) -> tuple[asyncpg.Record, bool]:
        """The SPA posts a label when its call ends. A call placed through Twilio in the last hour already holds
        the truth (webhooks fed it): the label only adds an outcome. Otherwise a manual call is recorded.
        Returns (call, created)."""
        status_label = str(data.status).strip().lower()
        if status_label not in LOGGED_LABELS:
            allowed = ", ".join(label.title() for label in LOGGED_LABELS)
            raise ValidationFailed.field("status", f"expected one of {allowed}")
        status, outcome = LOGGED_LABELS[status_label]
        contact_id = owned_id(data.contact_id, "Contact")
        campaign_id = owned_id(data.campaign_id, "Campaign")
        if contact_id is None:
            raise NotFound("Contact")
        contact = await self.contacts.get(owner, contact_id)
        if campaign_id:
            await self.campaigns.require(owner, campaign_id)
        async with self.pool.acquire() as connection, connection.transaction():
            recent = await repository.recent_dialed_call(connection, owner, contact.id)
            if recent is not None:
                await repository.set_outcome(connection, recent["id"], outcome, data.notes)
                return await repository.get(connection, owner, recent["id"]), False
            call_id = await repository.insert_call(
                connection,
                owner,
                {
                    "contact_id": contact.id,
                    "campaign_id": campaign_id,
                    "phone_number": contact.phone,
                    "status": status,
                    "duration": data.duration,
                    "outcome": outcome,
                    "notes": data.notes,
                },
            )
            return await repository.get(connection, owner, call_id), True

    async def end(self, owner: uuid.UUID, key: str) -> tuple[str, str]:
        self.require_twilio()
        call = await self.get(owner, key)
        if not call["twilio_sid"]:
            raise Conflict("This call was never placed through Twilio", code="not_dialed")
        if call["status"] in repository.TERMINAL:
            raise Conflict("The call is already over", code="call_over")
        try:
            ended = await self.twilio.end_call(call["twilio_sid"])
        except TwilioError as exc:
            if exc.code == 21220:  # "not in progress": it ended meanwhile
                raise Conflict("The call is already over", code="call_over") from None
            raise upstream(exc) from None
        # The status itself arrives by webhook, with the duration; the state machine applies it once.
        return ended.sid, ended.status

    # -- status webhooks ----------------------------------------------------------------------------------------
    async def status_callback(self, params: Mapping[str, str]) -> None:
        sid = params.get("CallSid", "")
        sequence = _integer(params.get("SequenceNumber"))
        async with self.pool.acquire() as connection, connection.transaction():
            stored, call_id = await repository.insert_event(connection, sid, sequence, "status", dict(params))
            if stored and call_id is not None:
                await self._apply_status(connection, call_id, params)

    async def _apply_status(
        self, connection: asyncpg.Connection, call_id: uuid.UUID, params: Mapping[str, str]
    ) -> None:
        status = params.get("CallStatus", "")
        if status not in STATUS_LABELS:
            return
        answered_by = params.get("AnsweredBy") or None
        outcome = None
        if status == "no-answer":
            outcome = "no_answer"
        elif answered_by and answered_by.startswith("machine"):
            outcome = "voicemail"
        # Without a SequenceNumber (older accounts) the status order itself is the sequence.
        sequence = _integer(params.get("SequenceNumber"))
        if sequence is None:
            sequence = list(STATUS_LABELS).index(status)
        changed = await repository.apply_status(
            connection,
            call_id,
            status,
            sequence,
            duration=_integer(params.get("CallDuration")),
            answered_by=answered_by,
            outcome=outcome,
        )
        if changed is None:
            return
        reservation = changed["credit_reservation_id"]
        if reservation is not None and status in repository.TERMINAL:
            # A call that never connected costs nothing.
            if status == "completed":
                await self.credits.charge(connection, reservation)
            else:
                await self.credits.refund(connection, reservation)
        if status == "completed" and changed["recording_url"]:
            await queue_analysis(connection, call_id)
        if changed["dial_attempt"] is not None and status in repository.TERMINAL:
            # The dialer decides what comes next for the contact (retry or done); by name: calls never import it.
            key = f"dialer.ended:{call_id}"
            await enqueue(connection, "dialer.call_ended", {"callId": str(call_id)}, dedupe_key=key)
        # Last: publishing holds the events lock to the commit, and the refund above locks the owner's row; the
        # other order deadlocked with a claim reserving credits for the same owner (bench/dialer.py found it).
        await announce(connection, changed)

    async def recording(self, params: Mapping[str, str]) -> None:
        sid = params.get("CallSid", "")
        async with self.pool.acquire() as connection, connection.transaction():
            await repository.insert_event(connection, sid, None, "recording", dict(params))
            url = params.get("RecordingUrl")
            if url and params.get("RecordingStatus", "completed") == "completed":
                call = await repository.set_recording(connection, sid, params.get("RecordingSid"), url)
                if call is not None and call["status"] == "completed":
                    await queue_analysis(connection, call["id"])

    async def transcription(self, params: Mapping[str, str]) -> None:
        sid = params.get("CallSid", "")
        async with self.pool.acquire() as connection, connection.transaction():
            await repository.insert_event(connection, sid, None, "transcription", dict(params))
            text = params.get("TranscriptionText")
            if text and params.get("TranscriptionStatus", "completed") == "completed":
                await repository.set_transcript(connection, sid, text)

    async def twiml_for(self, call_id: str | None) -> Any:
        row = None
        if call_id:
            try:
                row = await repository.call_for_twiml(self.pool, uuid.UUID(call_id))
            except ValueError:
                row = None
        return row

    # -- SMS --------------------------------------------------------------------------------------------------------
    async def send_sms(self, owner: uuid.UUID, data: SmsIn) -> SmsOut:
        self.require_twilio()
        contact_id = owned_id(data.contact_id, "Contact")
        contact, phone = await self._dialable(owner, contact_id, data.phone_number)
        async with self.pool.acquire() as connection, connection.transaction():
            linked = contact.id if contact else await repository.contact_by_phone(connection, owner, phone)
            reservation = await self.credits.reserve(connection, owner, self.settings.sms_credits, "sms")
            sms_id = await repository.insert_sms(
                connection,
                owner,
                contact_id=linked,
                direction="outbound",
                from_number=self.settings.twilio_phone_number or None,
                to_number=phone,
                body=data.message,
                status="queued",
                reservation_id=reservation,
            )
            assert sms_id is not None, "a message without a sid never conflicts"
        try:
            sent = await self.twilio.send_sms(phone, data.message, status_callback=self.url("/api/twilio/sms-status"))
        except TwilioError as exc:
            async with self.pool.acquire() as connection, connection.transaction():
                await self.credits.refund(connection, reservation)
                await repository.delete_sms(connection, sms_id)
                if exc.code in UNREACHABLE_ERRORS:
                    await repository.set_opted_out(connection, phone, True)
            if exc.code in UNREACHABLE_ERRORS:
                raise Conflict(
                    f"This number cannot receive our messages: {exc.message}", code="do_not_contact"
                ) from None
            raise upstream(exc) from None
        async with self.pool.acquire() as connection, connection.transaction():
            row = await repository.sms_sent(connection, sms_id, sent.sid, sent.status)
            await self.credits.charge(connection, reservation)  # Twilio bills a message once it accepts it
        return SmsOut(
            success=True,
            id=row["id"],
            sid=row["twilio_sid"],
            status=row["status"],
            contact_id=row["contact_id"],
            to=row["to_number"],
            body=row["body"],
            created_at=row["created_at"],
        )

    async def sms_status(self, params: Mapping[str, str]) -> None:
        sid = params.get("MessageSid") or params.get("SmsSid") or ""
        status = params.get("MessageStatus") or params.get("SmsStatus") or ""
        error_code = _integer(params.get("ErrorCode"))
        async with self.pool.acquire() as connection, connection.transaction():
            await repository.insert_event(connection, sid, None, "sms.status", dict(params))
            changed = await repository.apply_sms_status(connection, sid, status, error_code)
            if changed is not None and error_code in UNREACHABLE_ERRORS and changed["to_number"]:
                await repository.set_opted_out(connection, changed["to_number"], True)

    async def inbound_sms(self, params: Mapping[str, str]) -> None:
        sid = params.get("MessageSid") or params.get("SmsSid") or ""
        sender = params.get("From", "")
        body = params.get("Body", "")
        word = body.strip().upper()
        opt_out_type = (params.get("OptOutType") or "").upper()
        async with self.pool.acquire() as connection, connection.transaction():
            await repository.insert_event(connection, sid, None, "sms.inbound", dict(params))
            if opt_out_type == "STOP" or word in OPT_OUT_WORDS:
                await repository.set_opted_out(connection, sender, True)
            elif opt_out_type == "START" or word in OPT_IN_WORDS:
                await repository.set_opted_out(connection, sender, False)
            conversation = await repository.last_sender_to(connection, sender)
            if conversation is None:
                return  # nobody wrote to this number: the raw event is all we keep
            owner = conversation["user_id"]
            contact_id = conversation["contact_id"] or await repository.contact_by_phone(connection, owner, sender)
            await repository.insert_sms(
                connection,
                owner,
                contact_id=contact_id,
                direction="inbound",
                from_number=sender,
                to_number=params.get("To"),
                body=body,
                status="received",
                sid=sid or None,
            )


async def announce(connection: asyncpg.Connection, call: asyncpg.Record) -> None:
    """The owner's browsers follow the call live (GET /api/events); the pollers still read GET /:sid."""
    await publish(
        connection,
        [call["user_id"]],
        "call.status",
        {
            "id": str(call["id"]),
            "sid": call["twilio_sid"],
            "status": label(call["status"], call["outcome"]),
            "twilioStatus": call["status"],
            "duration": call["duration_seconds"] or 0,
        },
    )


async def queue_analysis(connection: asyncpg.Connection, call_id: uuid.UUID) -> None:
    """A completed call with a recording goes to post-call analysis once (recording and status race)."""
    await enqueue(
        connection, "calls.analyse_recording", {"callId": str(call_id)}, dedupe_key=f"calls.analyse_recording:{call_id}"
    )


def twiml_fill(script: str, contact: ContactOut | None) -> str:
    if contact is None:
        return fill_placeholders(script, {})
    return fill_contact(script, msgspec.structs.asdict(contact))


def fill_contact(script: str, contact: Mapping[str, Any]) -> str:
    """The script's placeholders from a contact's columns (a ContactOut's fields or the dialer's row)."""
    values = {
        "firstName": contact["first_name"],
        "lastName": contact["last_name"],
        "fullName": contact["full_name"],
        "name": contact["full_name"],
        "company": contact["company"],
        "companyName": contact["company"],
        "email": contact["email"],
    }
    return fill_placeholders(script, values)


def _integer(raw: str | None) -> int | None:
    try:
        return int(raw) if raw not in (None, "") else None
    except ValueError:
        return None
