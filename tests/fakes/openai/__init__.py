"""A loopback OpenAI: the parts of the REST API the service uses, on 127.0.0.1, speaking OpenAI's wire format.

- POST /v1/chat/completions: plain answers echo the last user message ("(fake) ..."); with a `json_schema`
  response_format it answers `structured[schema name]` (a valid default per schema the service uses).
- POST /v1/audio/transcriptions (multipart): `transcript`, with duration and language for verbose_json.

A test can make it slow (`delay`), fail the next requests (`fail_next`: any status, 429 with Retry-After),
answer malformed JSON (`malformed_next`), and read every request it got (`requests`).
Run it alone for benchmarks: `python -m tests.fakes.openai --port 8765 --delay 0.5`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes.loopback import LoopbackServer

API_KEY = "sk-fake-openai-key-for-tests"
USAGE = {"prompt_tokens": 12, "completion_tokens": 8, "total_tokens": 20}
STRUCTURED_DEFAULTS: dict[str, Any] = {
    "SentimentAnswer": {"sentiment": "positive", "score": 0.6, "confidence": 0.9, "analysis": "Upbeat and keen."},
    "ContactsAnswer": {
        "contacts": [
            {
                "firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com", "phone": "+14155550100",
                "company": "Engines Ltd", "jobTitle": "Analyst", "industry": "Computing", "notes": None,
                "confidence": 0.95,
            },
            {
                "firstName": "Alan", "lastName": None, "email": None, "phone": "+14155550101",
                "company": None, "jobTitle": None, "industry": None, "notes": "met at a fair", "confidence": 0.6,
            },
        ]
    },
    "ScriptAnswer": {
        "script": "Hello, this is ReachImpact calling about your solar roof...",
        "openingLine": "Hi! Do you have two minutes to save on energy?",
        "objectionHandling": [{"objection": "Too expensive", "response": "It pays for itself in six years."}],
        "closingStatement": "Shall we book a free survey on Tuesday?",
    },
    "CallAnalysisAnswer": {
        "sentiment": "positive", "score": 0.7, "summary": "The prospect asked for a quote and a visit.",
        "suggestedOutcome": "interested", "followUpSuggestion": "Send the quote and propose Tuesday at 10.",
    },
}  # fmt: skip


@dataclass
class Fault:
    status: int = 0  # an HTTP error status, or 0 for a 200 whose structured content is not valid JSON
    retry_after_ms: int | None = None


class OpenAIFake:
    def __init__(self, *, delay: float = 0.0, api_key: str = API_KEY) -> None:
        self.delay = delay
        self.api_key = api_key
        self.structured: dict[str, Any] = json.loads(json.dumps(STRUCTURED_DEFAULTS))
        self.transcript = "Hello, I would like a quote for the roof, please."
        self.requests: list[dict[str, Any]] = []
        self.faults: deque[Fault] = deque()
        app = web.Application(client_max_size=30 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self.chat_completions)
        app.router.add_post("/v1/audio/transcriptions", self.transcriptions)
        self.app = app
        self._server: LoopbackServer | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"{self._server.url}/v1"

    def start(self) -> OpenAIFake:
        self._server = LoopbackServer(self.app)
        self._server.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.stop()

    def fail_next(self, status: int, *, times: int = 1, retry_after_ms: int | None = None) -> None:
        self.faults.extend(Fault(status, retry_after_ms) for _ in range(times))

    def malformed_next(self, times: int = 1) -> None:
        self.faults.extend(Fault(0) for _ in range(times))

    def paths(self) -> list[str]:
        return [request["path"] for request in self.requests]

    # -- handlers ----------------------------------------------------------------------------------------------

    async def _arrive(self, request: web.Request, body: dict[str, Any]) -> tuple[web.Response | None, bool]:
        """Record the request, wait `delay`, and apply the next fault: (an error response or None, malformed)."""
        self.requests.append({"path": request.path, "body": body, "at": time.monotonic()})
        if self.delay:
            await asyncio.sleep(self.delay)
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _error(401, "Incorrect API key provided: sk-fak***", "invalid_api_key"), False
        fault = self.faults.popleft() if self.faults else None
        if fault is None:
            return None, False
        if fault.status == 0:
            return None, True
        headers = {"retry-after-ms": str(fault.retry_after_ms)} if fault.retry_after_ms is not None else {}
        kind = "rate_limit_exceeded" if fault.status == 429 else "server_error"
        return _error(fault.status, f"fake failure {fault.status}", kind, headers), False

    async def chat_completions(self, request: web.Request) -> web.Response:
        body = await request.json()
        error, malformed = await self._arrive(request, body)
        if error is not None:
            return error
        response_format = body.get("response_format") or {}
        if response_format.get("type") == "json_schema":
            name = response_format["json_schema"]["name"]
            content = '{"truncated": ' if malformed else json.dumps(self.structured[name])
        else:
            user_turns = [m["content"] for m in body["messages"] if m["role"] == "user"]
            content = f"(fake) {user_turns[-1] if user_turns else ''}"
        return web.json_response(
            {
                "id": f"chatcmpl-{len(self.requests)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content, "refusal": None},
                        "finish_reason": "stop",
                        "logprobs": None,
                    }
                ],
                "usage": USAGE,
            }
        )

    async def transcriptions(self, request: web.Request) -> web.Response:
        form = await request.post()
        upload = form.get("file")
        body = {
            "model": form.get("model"),
            "response_format": form.get("response_format"),
            "filename": getattr(upload, "filename", None),
            "size": len(upload.file.read()) if isinstance(upload, web.FileField) else 0,
        }
        error, _ = await self._arrive(request, body)
        if error is not None:
            return error
        if body["response_format"] == "verbose_json":
            return web.json_response(
                {"task": "transcribe", "language": "english", "duration": 4.2, "text": self.transcript, "segments": []}
            )
        return web.json_response({"text": self.transcript})


def _error(status: int, message: str, code: str, headers: dict[str, str] | None = None) -> web.Response:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}}
    return web.json_response(body, status=status, headers=headers)
