"""OpenAI through the official SDK (openai >= 3, which sends through httpx2).

`OPENAI_BASE_URL` points it at any OpenAI-compatible server: the tests' loopback fake, a proxy. The SDK retries
429, 5xx, timeouts and broken connections itself, with backoff (honouring Retry-After), `OPENAI_MAX_RETRIES`
times; whatever still fails becomes `UpstreamFailed` (502) with a message fit to show, never OpenAI's own text,
which can quote part of the key.

Structured answers are msgspec structs: their JSON schema, made strict, goes out as `response_format`, and the
reply is decoded into the struct, which also checks ranges the schema only states. The SDK's `parse()` takes
pydantic types only; deriving the schema from the DTO the route answers with keeps one definition.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, cast

import httpx2
import msgspec
import openai
import structlog
from openai.types.chat import ChatCompletionMessageParam

from service.config import Settings
from service.errors import ServiceUnavailable, UpstreamFailed

T = TypeVar("T")
Role = Literal["system", "user", "assistant"]
# One retry of a structured answer that does not decode or validate; the second failure is a 502.
STRUCTURED_ATTEMPTS = 2

log = structlog.get_logger()


class Message(msgspec.Struct, frozen=True):
    role: Role
    content: str


class Usage(msgspec.Struct, rename="camel", frozen=True):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


@dataclass(frozen=True, slots=True)
class Reply:
    content: str
    usage: Usage


@dataclass(frozen=True, slots=True)
class Transcript:
    text: str
    duration: float | None
    language: str | None


class MalformedAnswer(Exception):
    """The model's structured answer did not decode into the expected shape."""


class OpenAIClient:
    def __init__(self, settings: Settings) -> None:
        self.models = settings.openai_models
        self._sdk: openai.AsyncOpenAI | None = None
        if settings.openai_api_key:
            self._sdk = openai.AsyncOpenAI(
                api_key=settings.openai_api_key,
                base_url=settings.openai_base_url,
                max_retries=settings.openai_max_retries,
                timeout=httpx2.Timeout(settings.openai_timeout_seconds, connect=5.0),
            )

    @property
    def configured(self) -> bool:
        return self._sdk is not None

    def require(self) -> openai.AsyncOpenAI:
        """The SDK client, or 503 when no key is configured (checked before any credit is reserved)."""
        if self._sdk is None:
            raise ServiceUnavailable(
                "AI features are not available: this server has no OpenAI API key (OPENAI_API_KEY)",
                code="ai_not_configured",
            )
        return self._sdk

    async def close(self) -> None:
        if self._sdk is not None:
            await self._sdk.close()

    async def chat(
        self,
        feature: str,
        messages: Iterable[Message],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> Reply:
        sdk = self.require()
        options: dict[str, Any] = {}
        if temperature is not None:
            options["temperature"] = temperature
        if max_tokens is not None:
            options["max_tokens"] = max_tokens
        async with upstream():
            completion = await sdk.chat.completions.create(
                model=self.models[feature], messages=_wire(messages), **options
            )
        return Reply(completion.choices[0].message.content or "", _usage(completion.usage))

    async def structured(self, feature: str, messages: Iterable[Message], shape: type[T]) -> tuple[T, Usage]:
        """An answer decoded into `shape`; a malformed one is asked for once more, then 502."""
        sdk = self.require()
        wire = _wire(messages)
        response_format = strict_response_format(shape)
        decoder = msgspec.json.Decoder(shape)
        for attempt in range(1, STRUCTURED_ATTEMPTS + 1):
            async with upstream():
                completion = await sdk.chat.completions.create(
                    model=self.models[feature],
                    messages=wire,
                    response_format=cast(Any, response_format),
                )
            choice = completion.choices[0]
            try:
                if choice.message.refusal or choice.finish_reason not in ("stop", None):
                    raise MalformedAnswer(choice.message.refusal or f"finish_reason {choice.finish_reason}")
                return decoder.decode(choice.message.content or ""), _usage(completion.usage)
            except (MalformedAnswer, msgspec.DecodeError) as exc:  # ValidationError is a DecodeError
                log.warning("openai structured answer malformed", feature=feature, attempt=attempt, error=str(exc))
        raise UpstreamFailed("openai", "The AI service returned a malformed answer twice; please try again")

    async def transcribe(self, audio: bytes, filename: str, content_type: str) -> Transcript:
        sdk = self.require()
        model = self.models["transcribe"]
        # Only whisper models give verbose_json (with the duration); the gpt-4o transcribers answer json.
        verbose = model.startswith("whisper")
        async with upstream():
            result = await sdk.audio.transcriptions.create(
                file=(filename, audio, content_type),
                model=model,
                response_format="verbose_json" if verbose else "json",
            )
        if isinstance(result, str):  # only for response formats this client never asks for
            return Transcript(text=result, duration=None, language=None)
        return Transcript(
            text=result.text,
            duration=getattr(result, "duration", None),
            language=getattr(result, "language", None),
        )


@asynccontextmanager
async def upstream() -> AsyncIterator[None]:
    """OpenAI's failures (after the SDK's own retries) as 502s whose message says what happened, safely."""
    try:
        yield
    except openai.APITimeoutError:
        raise UpstreamFailed("openai", "The AI service did not answer in time") from None
    except openai.APIConnectionError:
        raise UpstreamFailed("openai", "The AI service could not be reached") from None
    except openai.APIStatusError as exc:
        log.warning("openai request failed", status=exc.status_code, code=getattr(exc, "code", None))
        raise UpstreamFailed("openai", _status_message(exc.status_code)) from None


def _status_message(status: int) -> str:
    if status == 429:
        return "The AI service is over capacity right now; please try again shortly"
    if status in (401, 403):
        return "The AI service refused this server's credentials"
    if status == 404:
        return "The configured AI model is not available"
    if status >= 500:
        return f"The AI service failed (status {status}); please try again"
    return f"The AI service rejected the request (status {status})"


def _wire(messages: Iterable[Message]) -> list[ChatCompletionMessageParam]:
    return [cast(ChatCompletionMessageParam, {"role": m.role, "content": m.content}) for m in messages]


def _usage(usage: Any) -> Usage:
    if usage is None:
        return Usage()
    return Usage(usage.prompt_tokens or 0, usage.completion_tokens or 0, usage.total_tokens or 0)


def strict_response_format(shape: type[Any]) -> dict[str, Any]:
    """`response_format` for structured outputs: `shape`'s JSON schema in OpenAI's strict form.

    Strict mode wants the root to be an object (not a $ref), every object closed (additionalProperties false)
    and every property required (optional ones are nullable instead).
    """
    schema = msgspec.json.schema(shape)
    definitions: dict[str, Any] = schema.pop("$defs", {})
    name = schema["$ref"].rsplit("/", 1)[-1]
    root = {**definitions.pop(name)}
    for node in (root, *definitions.values()):
        _close(node)
    if definitions:
        root["$defs"] = definitions
    return {"type": "json_schema", "json_schema": {"name": name, "schema": root, "strict": True}}


def _close(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("type") == "object":
            node["additionalProperties"] = False
            node["required"] = list(node.get("properties", {}))
        for value in node.values():
            _close(value)
    elif isinstance(node, list):
        for value in node:
            _close(value)
