"""A loopback Twilio: the REST API the service calls, and the signed webhooks Twilio would send back.

It serves, on 127.0.0.1, the parts of Twilio's 2010-04-01 API the service uses (create, fetch and update a call,
create a message), with Twilio's JSON error bodies. Webhooks are produced as `Callback`s (URL + form + the
X-Twilio-Signature computed with the real algorithm over that URL) and delivered through any httpx-style client,
in Twilio's order, duplicated, shuffled or forged, as a test asks.
"""

from __future__ import annotations

import asyncio
import base64
import random
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any, Protocol

from aiohttp import web
from twilio.request_validator import RequestValidator

from tests.fakes.ports import free_port

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "fake-twilio-auth-token-0123456789"
CALLER_ID = "+15005550006"
OPTED_OUT_ERROR = 21610
TERMINAL = {"completed", "busy", "failed", "no-answer", "canceled"}


def pointed_at(settings: Any, fake: TwilioFake) -> Any:
    """`settings` with the account, caller id and base URL of the loopback Twilio `fake`."""
    return replace(
        settings,
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_phone_number=CALLER_ID,
        twilio_api_base_url=fake.base_url,
    )


class Poster(Protocol):
    async def post(self, url: str, *, data: dict[str, str], headers: dict[str, str]) -> Any: ...


@dataclass
class Callback:
    url: str
    params: dict[str, str]
    token: str = AUTH_TOKEN

    @property
    def signature(self) -> str:
        return str(RequestValidator(self.token).compute_signature(self.url, self.params))

    def forged(self) -> Callback:
        """The same callback signed by someone who does not know the auth token."""
        return Callback(self.url, self.params, token="not-the-auth-token")

    async def send(self, poster: Poster, *, signed: bool = True) -> Any:
        headers = {"X-Twilio-Signature": self.signature} if signed else {}
        return await poster.post(self.url, data=self.params, headers=headers)


@dataclass
class FakeCall:
    sid: str
    to: str
    from_: str
    url: str
    status_callback: str | None
    events: list[str]
    record: bool
    recording_callback: str | None
    machine_detection: str | None
    status: str = "queued"
    duration: int | None = None
    answered_by: str | None = None
    sequence: int = 0
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class FakeMessage:
    sid: str
    to: str
    body: str
    status_callback: str | None
    status: str = "queued"


@dataclass
class Failure:
    status: int
    code: int
    message: str


@dataclass
class TwilioFake:
    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    calls: dict[str, FakeCall] = field(default_factory=dict)
    messages: dict[str, FakeMessage] = field(default_factory=dict)
    # How many calls were placed to each number (the dialer's tests read it).
    dials: Counter[str] = field(default_factory=Counter)
    # Numbers that texted STOP: Twilio refuses messages to them with error 21610.
    opted_out: set[str] = field(default_factory=set)
    # When each call was placed (time.monotonic()) and to whom, in order: the pacing tests read it.
    dial_log: list[tuple[float, str]] = field(default_factory=list)
    # Answers queued for the next requests, e.g. a 429 followed by success.
    failures: list[Failure] = field(default_factory=list)
    # Twilio's clock, which stamps the calls; a test that moves the service's clock can move this one with it.
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    # Seconds the next call creations wait before answering (a worker can be killed mid-dial).
    create_delay: float = 0.0
    # How many of the next created calls lose their answer: the call exists, the client sees the connection drop.
    lose_answers: int = 0
    requests: int = 0
    # The client address of each connection requests came on (a client that keeps its connections alive uses few).
    connections: set[tuple[str, int]] = field(default_factory=set)
    # The sid the next call gets, so a test can deliver its callbacks before the service learns it.
    next_call_sid: str | None = None
    # Called with each new call on the fake's own loop (bench/dialer.py plays the call's webhooks from there).
    on_call: Callable[[FakeCall], None] | None = None
    base_url: str = ""
    _runner: web.AppRunner | None = None
    _loop: asyncio.AbstractEventLoop = field(init=False)
    _thread: threading.Thread = field(init=False)

    # -- the server -----------------------------------------------------------------------------------------------
    async def start(self) -> TwilioFake:
        """Serves from a thread of its own: Litestar's test client blocks the test's event loop per request."""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(timeout=10)
        return self

    async def stop(self) -> None:
        if self._runner:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _serve(self) -> None:
        app = web.Application()
        prefix = f"/2010-04-01/Accounts/{self.account_sid}"
        app.router.add_post(f"{prefix}/Calls.json", self._create_call)
        app.router.add_get(f"{prefix}/Calls.json", self._list_calls)
        app.router.add_get(f"{prefix}/Calls/{{sid}}.json", self._fetch_call)
        app.router.add_post(f"{prefix}/Calls/{{sid}}.json", self._update_call)
        app.router.add_post(f"{prefix}/Messages.json", self._create_message)
        app.router.add_get(f"{prefix}/Recordings/{{sid}}.mp3", self._recording_audio)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.base_url = f"http://127.0.0.1:{port}"

    def fail_next(self, status: int, code: int, message: str) -> None:
        self.failures.append(Failure(status, code, message))

    def _authorized(self, request: web.Request) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return request.headers.get("Authorization") == f"Basic {expected}"

    def _error(self, status: int, code: int, message: str) -> web.Response:
        body = {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }
        return web.json_response(body, status=status)

    async def _guard(self, request: web.Request) -> web.Response | None:
        self.requests += 1
        if request.transport is not None:
            self.connections.add(request.transport.get_extra_info("peername"))
        if not self._authorized(request):
            return self._error(401, 20003, "Authenticate")
        if self.failures:
            failure = self.failures.pop(0)
            return self._error(failure.status, failure.code, failure.message)
        return None

    def _invalid_to(self, to: str) -> web.Response | None:
        if to.startswith("+") and to[1:].isdigit():
            return None
        return self._error(400, 21211, f"The 'To' number {to} is not a valid phone number.")

    async def _known_call(self, request: web.Request) -> FakeCall | web.Response:
        if (refused := await self._guard(request)) is not None:
            return refused
        call = self.calls.get(request.match_info["sid"])
        if call is None:
            return self._error(404, 20404, f"The requested resource {request.path} was not found")
        return call

    async def _create_call(self, request: web.Request) -> web.Response:
        if (refused := await self._guard(request)) is not None:
            return refused
        form = await request.post()
        to = str(form.get("To", ""))
        if (invalid := self._invalid_to(to)) is not None:
            return invalid
        if not form.get("Url") and not form.get("Twiml"):
            return self._error(400, 21205, "Url parameter is required.")
        sid, self.next_call_sid = self.next_call_sid or "CA" + secrets.token_hex(16), None
        call = FakeCall(
            sid=sid,
            to=to,
            from_=str(form.get("From", "")),
            url=str(form.get("Url", "")),
            status_callback=str(form["StatusCallback"]) if "StatusCallback" in form else None,
            events=[str(v) for v in form.getall("StatusCallbackEvent", [])],
            record=str(form.get("Record", "false")).lower() == "true",
            recording_callback=str(form["RecordingStatusCallback"]) if "RecordingStatusCallback" in form else None,
            machine_detection=str(form["MachineDetection"]) if "MachineDetection" in form else None,
            created_at=self.clock(),
        )
        self.calls[call.sid] = call
        self.dials[to] += 1
        self.dial_log.append((time.monotonic(), to))
        if self.on_call:
            self.on_call(call)
        if self.create_delay:
            await asyncio.sleep(self.create_delay)
        if self.lose_answers:
            self.lose_answers -= 1
            assert request.transport is not None
            request.transport.close()  # the call was placed; its answer never arrives
            return web.Response(status=500)
        return web.json_response(self._call_json(call), status=201)

    async def _list_calls(self, request: web.Request) -> web.Response:
        """Twilio's list filters the service uses: `To`, and `StartTime>` (a date, YYYY-MM-DD), newest first."""
        if (refused := await self._guard(request)) is not None:
            return refused
        to = request.query.get("To")
        since = request.query.get("StartTime>", "")[:10]
        found = [
            self._call_json(call)
            for call in sorted(self.calls.values(), key=lambda c: c.created_at, reverse=True)
            if (to is None or call.to == to) and call.created_at.date().isoformat() >= since
        ]
        uri = f"/2010-04-01/Accounts/{self.account_sid}/Calls.json"
        return web.json_response(
            {"calls": found, "page": 0, "page_size": 100, "uri": uri, "first_page_uri": uri, "next_page_uri": None}
        )

    async def _fetch_call(self, request: web.Request) -> web.Response:
        call = await self._known_call(request)
        return call if isinstance(call, web.Response) else web.json_response(self._call_json(call))

    async def _recording_audio(self, request: web.Request) -> web.Response:
        """Any recording's media: a few bytes of MP3 frame header (the OpenAI fake does not listen)."""
        if (refused := await self._guard(request)) is not None:
            return refused
        return web.Response(body=b"\xff\xfb\x90\x00" * 64, content_type="audio/mpeg")

    async def _update_call(self, request: web.Request) -> web.Response:
        call = await self._known_call(request)
        if isinstance(call, web.Response):
            return call
        form = await request.post()
        if form.get("Status") in ("completed", "canceled"):
            if call.status in TERMINAL:
                return self._error(400, 21220, "Call is not in-progress. Cannot redirect.")
            call.status = "completed" if call.status == "in-progress" else "canceled"
        return web.json_response(self._call_json(call))

    async def _create_message(self, request: web.Request) -> web.Response:
        if (refused := await self._guard(request)) is not None:
            return refused
        form = await request.post()
        to = str(form.get("To", ""))
        if (invalid := self._invalid_to(to)) is not None:
            return invalid
        if to in self.opted_out:
            return self._error(400, OPTED_OUT_ERROR, "Attempt to send to unsubscribed recipient")
        body = str(form.get("Body", ""))
        if len(body) > 1600:
            return self._error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
        message = FakeMessage(
            sid="SM" + secrets.token_hex(16),
            to=to,
            body=body,
            status_callback=str(form["StatusCallback"]) if "StatusCallback" in form else None,
        )
        self.messages[message.sid] = message
        return web.json_response(
            {"sid": message.sid, "status": "queued", "to": to, "body": body, "account_sid": self.account_sid},
            status=201,
        )

    def _call_json(self, call: FakeCall) -> dict[str, Any]:
        return {
            "sid": call.sid,
            "account_sid": self.account_sid,
            "to": call.to,
            "from": call.from_,
            "status": call.status,
            "direction": "outbound-api",
            "duration": None if call.duration is None else str(call.duration),
            "answered_by": call.answered_by,
            "date_created": format_datetime(call.created_at),
            "start_time": format_datetime(call.created_at),
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Calls/{call.sid}.json",
        }

    # -- the webhooks ---------------------------------------------------------------------------------------------
    def _status(self, call: FakeCall, status: str, **extra: str) -> Callback:
        assert call.status_callback, "the call was placed without a status callback"
        params = {
            "AccountSid": self.account_sid,
            "CallSid": call.sid,
            "CallStatus": status,
            "Direction": "outbound-api",
            "From": call.from_,
            "To": call.to,
            "ApiVersion": "2010-04-01",
            "SequenceNumber": str(call.sequence),
            "Timestamp": "Tue, 01 Dec 2026 23:00:00 +0000",
            **extra,
        }
        call.sequence += 1
        call.status = status
        return Callback(call.status_callback, params, self.auth_token)

    def progress(
        self, sid: str, final: str = "completed", *, duration: int = 42, answered_by: str | None = None
    ) -> list[Callback]:
        """The status callbacks of one call, in Twilio's order (SequenceNumber 0, 1, ...)."""
        call = self.calls[sid]
        callbacks = [self._status(call, "initiated"), self._status(call, "ringing")]
        if final == "completed":
            answered = {"AnsweredBy": answered_by} if answered_by else {}
            call.answered_by = answered_by
            callbacks.append(self._status(call, "in-progress", **answered))
            call.duration = duration
            callbacks.append(self._status(call, "completed", CallDuration=str(duration), Duration="1", **answered))
        else:
            callbacks.append(self._status(call, final, CallDuration="0"))
        return callbacks

    def recording(self, sid: str, *, duration: int = 40, url: str | None = None) -> Callback:
        call = self.calls[sid]
        target = url or call.recording_callback
        assert target, "the call was placed without a recording callback"
        recording_sid = "RE" + secrets.token_hex(16)
        params = {
            "AccountSid": self.account_sid,
            "CallSid": sid,
            "RecordingSid": recording_sid,
            "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{self.account_sid}/Recordings/{recording_sid}",
            "RecordingStatus": "completed",
            "RecordingDuration": str(duration),
            "RecordingChannels": "1",
            "RecordingSource": "RecordVerb",
        }
        return Callback(target, params, self.auth_token)

    def transcription(self, url: str, sid: str, text: str) -> Callback:
        params = {
            "AccountSid": self.account_sid,
            "CallSid": sid,
            "TranscriptionSid": "TR" + secrets.token_hex(16),
            "TranscriptionText": text,
            "TranscriptionStatus": "completed",
            "RecordingSid": "RE" + secrets.token_hex(16),
        }
        return Callback(url, params, self.auth_token)

    def message_status(self, sid: str, status: str, *, error_code: int | None = None) -> Callback:
        message = self.messages[sid]
        assert message.status_callback, "the message was sent without a status callback"
        message.status = status
        params = {
            "AccountSid": self.account_sid,
            "MessageSid": sid,
            "SmsSid": sid,
            "MessageStatus": status,
            "To": message.to,
            "From": CALLER_ID,
        }
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        return Callback(message.status_callback, params, self.auth_token)

    def inbound_sms(self, url: str, from_: str, body: str, *, opt_out_type: str | None = None) -> Callback:
        """A text to the service's number; Twilio posts it to the number's messaging webhook."""
        if body.strip().upper() in ("STOP", "UNSUBSCRIBE", "END", "QUIT", "STOPALL", "REVOKE", "OPTOUT", "CANCEL"):
            self.opted_out.add(from_)
        elif body.strip().upper() == "START":
            self.opted_out.discard(from_)
        params = {
            "AccountSid": self.account_sid,
            "MessageSid": "SM" + secrets.token_hex(16),
            "From": from_,
            "To": CALLER_ID,
            "Body": body,
            "NumMedia": "0",
        }
        if opt_out_type:
            params["OptOutType"] = opt_out_type
        return Callback(url, params, self.auth_token)


async def deliver(
    poster: Poster, callbacks: list[Callback], *, duplicate: bool = False, shuffle: bool = False, seed: int = 0
) -> list[Any]:
    """Send callbacks as Twilio may: each twice when `duplicate`, in any order when `shuffle`."""
    batch = [c for c in callbacks for _ in range(2 if duplicate else 1)]
    if shuffle:
        random.Random(seed).shuffle(batch)
    return [await callback.send(poster) for callback in batch]
