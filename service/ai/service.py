"""AI rules: what each feature asks the model, what it costs, and credits that move by reservation.

Every paid request goes: input checked (400/413) -> OpenAI configured (503) -> credits reserved in one
statement (402 and nothing sent when short) -> OpenAI called with no database connection held -> charged on
success, refunded on any failure, timeout or cancellation. The reservation and the refund each write one ledger
row; the charge moves nothing.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager

import asyncpg

from service.ai import prompts
from service.ai import repository as analyses
from service.ai.schemas import (
    MAX_AUDIO_BYTES,
    MAX_CONVERSATION_CHARS,
    CallAnalysisAnswer,
    ChatMessage,
    ChatOut,
    ChatReplyMessage,
    ContactsAnswer,
    ScriptAnswer,
    ScriptIn,
    SentimentAnswer,
)
from service.credits.service import CreditsService
from service.errors import InsufficientCredits, TooLarge, ValidationFailed
from service.openai import Message, OpenAIClient, Transcript
from service.realtime import publish
from service.twilio import TwilioClient

# What OpenAI's transcription endpoint accepts (it goes by the file name's extension), and the extension of
# each audio type browsers and Twilio send, for uploads whose name has none.
AUDIO_EXTENSIONS = frozenset({"flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm"})
AUDIO_TYPES = {
    "audio/webm": "webm", "video/webm": "webm", "audio/ogg": "ogg", "audio/mpeg": "mp3", "audio/mp3": "mp3",
    "audio/wav": "wav", "audio/x-wav": "wav", "audio/wave": "wav", "audio/mp4": "m4a", "audio/x-m4a": "m4a",
    "audio/m4a": "m4a", "video/mp4": "mp4", "audio/flac": "flac", "audio/x-flac": "flac",
}  # fmt: skip
Settle = Callable[[asyncpg.Connection, uuid.UUID], Awaitable[bool]]


class AIService:
    """The paid AI requests of the SPA; built once at start-up (service/ai/runtime.py) and injected."""

    def __init__(
        self, pool: asyncpg.Pool, client: OpenAIClient, prices: dict[str, int], credits: CreditsService
    ) -> None:
        self.pool = pool
        self.client = client
        self.prices = prices
        self.credits = credits

    @asynccontextmanager
    async def paid(self, user_id: uuid.UUID, feature: str) -> AsyncIterator[None]:
        """Hold the feature's price for the duration of the block: charged if it succeeds, refunded if not."""
        self.client.require()
        async with self.pool.acquire() as connection:
            reservation = await self.credits.reserve(connection, user_id, self.prices[feature], f"ai.{feature}")
        try:
            yield
        except BaseException:
            # Shielded: a client that hangs up (cancellation) still gets its credits back.
            await asyncio.shield(self._settle(self.credits.refund, reservation))
            raise
        await asyncio.shield(self._settle(self.credits.charge, reservation))

    async def _settle(self, settle: Settle, reservation: uuid.UUID) -> None:
        async with self.pool.acquire() as connection:
            await settle(connection, reservation)

    async def chat(
        self,
        user_id: uuid.UUID,
        messages: list[ChatMessage],
        *,
        feature: str = "chat",
        system: str = prompts.ASSISTANT,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> ChatOut:
        conversation = [Message("system", system), *conversation_of(messages)]
        async with self.paid(user_id, feature):
            reply = await self.client.chat(feature, conversation, temperature=temperature, max_tokens=max_tokens)
        return ChatOut(ChatReplyMessage("assistant", reply.content), reply.usage)

    async def multilingual_chat(
        self,
        user_id: uuid.UUID,
        messages: list[ChatMessage],
        *,
        conversation_language: str,
        response_language: str,
        translate_user_input: bool,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> ChatOut:
        """One completion: the language handling is in the system prompt (the plan spent a call per message)."""
        system = prompts.multilingual(conversation_language, response_language, translate_user_input)
        return await self.chat(
            user_id,
            messages,
            feature="multilingual_chat",
            system=system,
            temperature=temperature,
            max_tokens=max_tokens,
        )

    async def translate(self, user_id: uuid.UUID, text: str, target: str, source: str | None) -> str:
        conversation = [Message("system", prompts.translate(target, source)), Message("user", text)]
        async with self.paid(user_id, "translate"):
            reply = await self.client.chat("translate", conversation)
        return reply.content

    async def sentiment(self, user_id: uuid.UUID, text: str) -> SentimentAnswer:
        conversation = [Message("system", prompts.SENTIMENT), Message("user", text)]
        async with self.paid(user_id, "sentiment"):
            answer, _ = await self.client.structured("sentiment", conversation, SentimentAnswer)
        return answer

    async def parse_contacts(self, user_id: uuid.UUID, text: str, *, hint: str | None = None) -> ContactsAnswer:
        system = f"{prompts.CONTACTS} {hint}" if hint else prompts.CONTACTS
        conversation = [Message("system", system), Message("user", text)]
        async with self.paid(user_id, "parse_contacts"):
            answer, _ = await self.client.structured("parse_contacts", conversation, ContactsAnswer)
        return answer

    async def generate_script(
        self, user_id: uuid.UUID, brief: ScriptIn, *, name: str | None = None, description: str | None = None
    ) -> ScriptAnswer:
        details = prompts.script_details(brief, name=name, description=description)
        conversation = [Message("system", prompts.script(brief.language)), Message("user", details)]
        async with self.paid(user_id, "generate_script"):
            answer, _ = await self.client.structured("generate_script", conversation, ScriptAnswer)
        return answer

    async def transcribe(self, user_id: uuid.UUID, audio: bytes, filename: str, content_type: str) -> Transcript:
        filename = check_audio(audio, filename, content_type)
        async with self.paid(user_id, "transcribe"):
            return await self.client.transcribe(audio, filename, content_type)


def conversation_of(messages: list[ChatMessage]) -> list[Message]:
    """The user's and assistant's turns. A client's own "system" messages are dropped: the server's system
    prompt is the only one, so no text a user controls is ever read as an instruction."""
    turns = [Message(m.role, m.content) for m in messages if m.role != "system"]
    if not any(m.role == "user" for m in turns):
        raise ValidationFailed.field("messages", "needs at least one message with role 'user'")
    if sum(len(m.content) for m in turns) > MAX_CONVERSATION_CHARS:
        raise TooLarge(f"The conversation is too long: at most {MAX_CONVERSATION_CHARS} characters in all")
    return turns


def check_audio(audio: bytes, filename: str, content_type: str) -> str:
    """The file name to send (with an extension OpenAI recognises), or 400/413 before anything is spent."""
    if len(audio) > MAX_AUDIO_BYTES:
        raise TooLarge(f"The audio file is too large: at most {MAX_AUDIO_BYTES // (1024 * 1024)} MB")
    if not audio:
        raise ValidationFailed.field("audio", "the file is empty")
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if extension not in AUDIO_EXTENSIONS:
        extension = AUDIO_TYPES.get(content_type.split(";")[0].strip().lower(), "")
        if not extension:
            allowed = ", ".join(sorted(AUDIO_EXTENSIONS))
            raise ValidationFailed.field("audio", f"unsupported type; send one of {allowed}")
        filename = f"audio.{extension}"
    return filename


class CallAnalyst:
    """Post-call analysis of one call: transcribe (when Twilio did not), translate (when its campaign has
    translation on), then sentiment, summary, suggested outcome and a follow-up suggestion, stored on the call
    and announced to its owner as a `call.analysis` event.

    It runs as a job, so it may run twice: the call's analysis row decides once (done or skipped), and a run
    that crashed leaves its reservation on the row for the next run to reuse, so nothing is charged twice.
    An OpenAI or Twilio failure refunds the run's credits and raises, and the job is retried.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        openai: OpenAIClient,
        twilio: TwilioClient,
        prices: dict[str, int],
        credits: CreditsService,
    ) -> None:
        self.pool = pool
        self.openai = openai
        self.twilio = twilio
        self.prices = prices
        self.credits = credits

    async def analyse(self, call_id: uuid.UUID) -> str:
        """What happened: "done", "skipped", or the earlier run's verdict ("done"/"skipped"/"gone")."""
        async with self.pool.acquire() as connection, connection.transaction():
            call = await analyses.call(connection, call_id)
            if call is None or call["user_id"] is None:
                return "gone"
            row = await analyses.claim(connection, call_id, call["user_id"])
            if row["status"] != "pending":
                return str(row["status"])
            price = self.price_of(call)
            reason = self._cannot(call)
            reservation = row["credit_reservation_id"]
            if reason is None and not await self.credits.is_held(connection, reservation):
                try:
                    reservation = await self.credits.reserve(connection, call["user_id"], price, "ai.call_analysis")
                except InsufficientCredits as exc:
                    reason = f"{exc.message}: this call was not analysed"
                await analyses.hold(connection, call_id, reservation)
            if reason is not None:
                await analyses.skip(connection, call_id, reason)
                await self._announce(connection, call, {"status": "skipped", "reason": reason})
                return "skipped"
        assert reservation is not None
        try:
            transcript, translated, answer = await self._work(call)
        except BaseException:
            async with self.pool.acquire() as connection, connection.transaction():
                await self.credits.refund(connection, reservation)
                await analyses.hold(connection, call_id, None)
            raise
        async with self.pool.acquire() as connection, connection.transaction():
            if not await analyses.finish(connection, call_id, price, answer):
                await self.credits.refund(connection, reservation)
                return "done"
            await analyses.store_on_call(connection, call_id, transcript, translated, answer.sentiment)
            await self.credits.charge(connection, reservation)
            result = {
                "status": "done",
                "sentiment": answer.sentiment,
                "score": answer.score,
                "summary": answer.summary,
                "suggestedOutcome": answer.suggested_outcome,
                "followUpSuggestion": answer.follow_up_suggestion,
                "translatedTranscript": translated,
                "credits": price,
            }
            await self._announce(connection, call, result)
        return "done"

    def price_of(self, call: asyncpg.Record) -> int:
        price = self.prices["call_analysis"]
        if not call["transcript"]:
            price += self.prices["transcribe"]
        if call["translate"]:
            price += self.prices["translate"]
        return price

    def _cannot(self, call: asyncpg.Record) -> str | None:
        if not call["transcript"] and not call["recording_url"]:
            return "The call has neither a recording nor a transcript"
        if not self.openai.configured:
            return "AI features are not configured on this server"
        return None

    async def _work(self, call: asyncpg.Record) -> tuple[str, str | None, CallAnalysisAnswer]:
        transcript = call["transcript"]
        if not transcript:
            audio = await self.twilio.download_recording(call["recording_url"])
            transcript = (await self.openai.transcribe(audio, "recording.mp3", "audio/mpeg")).text
        translated = None
        if call["translate"]:
            system = prompts.translate(call["target_language"], call["language"])
            reply = await self.openai.chat("translate", [Message("system", system), Message("user", transcript)])
            translated = reply.content
        conversation = [Message("system", prompts.CALL_ANALYSIS), Message("user", transcript)]
        answer, _ = await self.openai.structured("call_analysis", conversation, CallAnalysisAnswer)
        return transcript, translated, answer

    @staticmethod
    async def _announce(connection: asyncpg.Connection, call: asyncpg.Record, data: Mapping[str, object]) -> None:
        await publish(connection, [call["user_id"]], "call.analysis", {"callId": str(call["id"]), **data})
