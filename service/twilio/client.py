"""Twilio's REST API through the official SDK's async client, and the check of Twilio's webhook signatures.

The SDK builds every URL on the fixed https://api.twilio.com. `RoutedHttpClient` (the SDK's aiohttp client with
a retry loop) rewrites that base to TWILIO_API_BASE_URL, so an operator or the tests can point the service at a
Twilio-compatible double. 429 and 5xx are retried with backoff; any other error is a `TwilioError` carrying
Twilio's own message and error code.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
import structlog
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from service.config import Settings

TWILIO_BASE_URL = "https://api.twilio.com"
RETRY_DELAYS_SECONDS = (0.2, 0.5, 1.0)
# Status callbacks Twilio sends only when asked (it sends just `completed` otherwise).
CALL_STATUS_EVENTS = ["initiated", "ringing", "answered", "completed"]

log = structlog.get_logger()


class TwilioNotConfigured(Exception):
    """Credentials or the caller id are missing; the message names the settings."""


class TwilioError(Exception):
    """Twilio refused or failed a request. `message` is Twilio's, safe to show (it never holds secrets)."""

    def __init__(self, status: int, code: int | None, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class CallResource:
    sid: str
    status: str
    duration: int | None = None
    created_at: datetime | None = None
    answered_by: str | None = None  # answering-machine detection's verdict (human, machine_..., fax, unknown)


@dataclass(frozen=True, slots=True)
class MessageResource:
    sid: str
    status: str


class RoutedHttpClient(AsyncTwilioHttpClient):
    """The SDK's aiohttp client, sent to `base_url` instead of api.twilio.com, retrying 429 and 5xx."""

    def __init__(self, base_url: str, timeout: float, delays: tuple[float, ...] = RETRY_DELAYS_SECONDS) -> None:
        super().__init__(pool_connections=False, timeout=timeout)
        self.base_url = base_url.rstrip("/")
        self.delays = delays
        # Kept-alive connections, one session per event loop (a session must not outlive the loop that made it):
        # a new session per request paid a TCP and TLS handshake on every dial.
        self._sessions: dict[asyncio.AbstractEventLoop, aiohttp.ClientSession] = {}

    def _session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is None or session.closed:
            for gone in [other for other in self._sessions if other.is_closed()]:
                del self._sessions[gone]
            session = self._sessions[loop] = aiohttp.ClientSession()
        return session

    async def close(self) -> None:
        """Closes this loop's session (the one the caller's loop can close)."""
        session = self._sessions.pop(asyncio.get_running_loop(), None)
        if session is not None:
            await session.close()

    async def request(  # type: ignore[override]
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the SDK's signature
        allow_redirects: bool = False,
    ) -> Response:
        if url.startswith(TWILIO_BASE_URL):
            url = self.base_url + url[len(TWILIO_BASE_URL) :]
        if auth is not None:  # as a header: aiohttp deprecates its BasicAuth argument
            headers = {**(headers or {}), "Authorization": aiohttp.encode_basic_auth(*auth)}
            auth = None
        for attempt, delay in enumerate((*self.delays, None)):
            try:
                response = await self._send(
                    method, url, params, data, headers, timeout or self.timeout, allow_redirects
                )
            except (OSError, TimeoutError, aiohttp.ClientError) as exc:  # a dropped connection is a ClientError
                if delay is None:
                    raise TwilioError(503, None, f"Twilio is unreachable: {exc.__class__.__name__}") from None
                log.warning("twilio request failed, retrying", url=url, attempt=attempt + 1, error=str(exc))
            else:
                if not (response.status_code == 429 or response.status_code >= 500) or delay is None:
                    return response
                log.warning("twilio busy, retrying", url=url, attempt=attempt + 1, status=response.status_code)
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # the loop returns or raises on its last attempt

    async def _send(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None,
        data: dict[str, object] | None,
        headers: dict[str, str] | None,
        timeout: float | None,  # noqa: ASYNC109 - the SDK's signature
        allow_redirects: bool,
    ) -> Response:
        """One request, its answer read in this call. The SDK's own request() parks each answer on the client
        (`_test_only_last_response`) across an await, so concurrent requests were handed each other's answers:
        two calls placed at once could come back with the same sid."""
        async with self._session().request(
            method.upper(),
            url,
            params=params,  # type: ignore[arg-type]
            data=data,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout),
            allow_redirects=allow_redirects,
        ) as response:
            return Response(response.status, await response.text(), response.headers)


class TwilioClient:
    """What the service asks of Twilio: place, fetch and end calls, send SMS."""

    def __init__(self, settings: Settings, *, retry_delays: tuple[float, ...] = RETRY_DELAYS_SECONDS) -> None:
        """`retry_delays=()` hands every 429 and 5xx straight back (the dialer paces and backs off itself)."""
        self.settings = settings
        self.missing = settings.twilio_missing
        self._http = RoutedHttpClient(settings.twilio_api_base_url, settings.twilio_timeout_seconds, retry_delays)
        self._client = Client(
            settings.twilio_account_sid or "not-configured",
            settings.twilio_auth_token or "not-configured",
            http_client=self._http,
        )

    def require(self, *, caller_id: bool = False) -> None:
        missing = list(self.missing)
        if caller_id and not self.settings.twilio_phone_number:
            missing.append("TWILIO_PHONE_NUMBER")
        if missing:
            raise TwilioNotConfigured(
                f"Calling is not configured on this server: set {', '.join(dict.fromkeys(missing))}"
            )

    async def place_call(
        self,
        to: str,
        *,
        twiml_url: str,
        status_callback: str,
        machine_detection: bool,
        wait_for_beep: bool = False,
    ) -> CallResource:
        """With `wait_for_beep`, answering-machine detection waits for the greeting to end (to leave a message)."""
        self.require(caller_id=True)
        options: dict[str, Any] = {
            "to": to,
            "from_": self.settings.twilio_phone_number,
            "url": twiml_url,
            "method": "GET",
            "status_callback": status_callback,
            "status_callback_method": "POST",
            "status_callback_event": CALL_STATUS_EVENTS,
        }
        if machine_detection:
            options["machine_detection"] = "DetectMessageEnd" if wait_for_beep else "Enable"
        call = await self._call(self._client.calls.create_async(**options))
        return CallResource(call.sid, call.status)

    async def fetch_call(self, sid: str) -> CallResource:
        self.require()
        call = await self._call(self._client.calls(sid).fetch_async())
        duration = int(call.duration) if call.duration else None
        return CallResource(call.sid, call.status, duration, call.date_created, call.answered_by)

    async def calls_to(self, to: str, since: datetime) -> list[CallResource]:
        """Calls placed to `to` that started on or after `since`'s day (Twilio filters by date), newest first."""
        self.require()
        calls = await self._call(self._client.calls.list_async(to=to, start_time_after=since, limit=100))
        return [
            CallResource(call.sid, call.status, int(call.duration) if call.duration else None, call.date_created)
            for call in calls
        ]

    async def end_call(self, sid: str) -> CallResource:
        """Hang up: `completed` ends a call in progress (Twilio answers an error for one already over)."""
        self.require()
        call = await self._call(self._client.calls(sid).update_async(status="completed"))
        return CallResource(call.sid, call.status)

    async def send_sms(self, to: str, body: str, *, status_callback: str) -> MessageResource:
        self.require()
        options: dict[str, Any] = {"to": to, "body": body, "status_callback": status_callback}
        if self.settings.twilio_messaging_service_sid:
            options["messaging_service_sid"] = self.settings.twilio_messaging_service_sid
        else:
            options["from_"] = self.settings.twilio_phone_number
        message = await self._call(self._client.messages.create_async(**options))
        return MessageResource(message.sid, message.status)

    async def download_recording(self, url: str) -> bytes:
        """A recording's audio as MP3 (Twilio serves recordings to the account's credentials). The SDK's
        responses are text, so this one GET goes through aiohttp itself."""
        self.require()
        if url.startswith(TWILIO_BASE_URL):
            url = self.settings.twilio_api_base_url + url[len(TWILIO_BASE_URL) :]
        auth = aiohttp.encode_basic_auth(self.settings.twilio_account_sid, self.settings.twilio_auth_token)
        timeout = aiohttp.ClientTimeout(total=self.settings.twilio_timeout_seconds * 6)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(f"{url.removesuffix('.mp3')}.mp3", headers={"Authorization": auth}) as response,
            ):
                if response.status != 200:
                    raise TwilioError(
                        response.status, None, f"Twilio did not deliver the recording ({response.status})"
                    )
                return await response.read()
        except (OSError, TimeoutError) as exc:
            raise TwilioError(503, None, f"Twilio is unreachable: {exc.__class__.__name__}") from None

    async def close(self) -> None:
        await self._http.close()

    @staticmethod
    async def _call(request: Any) -> Any:
        try:
            return await request
        except TwilioRestException as exc:
            raise TwilioError(exc.status, exc.code, exc.msg) from None


def signature_is_valid(auth_token: str, url: str, params: Mapping[str, str], signature: str | None) -> bool:
    """Twilio's HMAC-SHA1 over the public URL and the sorted POST parameters (RequestValidator does it)."""
    if not auth_token or not signature:
        return False
    return bool(RequestValidator(auth_token).validate(url, dict(params), signature))
