"""AI DTOs: the SPA's two families of request and answer shapes, and the structured answers asked of the model.

The Fastify-style routes (/api/openai/*) speak camelCase; the older Express-style routes (/api/chat ...) take
some snake_case keys (`max_tokens`, `language_preference`, `target_language`, `campaign_info`), exactly as
client/src/lib/openai.ts sends them. Limits are checked when the body is decoded: 400 before any credit moves.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from service.openai import Message, Usage
from service.web.schemas import CamelStruct

MAX_MESSAGES = 50
MAX_MESSAGE_CHARS = 8_000
# A whole conversation beyond this is 413: the model's context (and the bill) is not for pasting books.
MAX_CONVERSATION_CHARS = 32_000
MAX_TEXT_CHARS = 10_000
MAX_CONTACTS_TEXT_CHARS = 50_000
MAX_AUDIO_BYTES = 25 * 1024 * 1024  # OpenAI's own limit for one transcription
# Codes or names only ("en", "pt-BR", "Brazilian Portuguese"): they go into system prompts, so nothing else may.
Language = Annotated[str, msgspec.Meta(min_length=2, max_length=40, pattern=r"^[A-Za-z][A-Za-z ()_-]*$")]
Short = Annotated[str, msgspec.Meta(max_length=500)]
Model = Annotated[str, msgspec.Meta(max_length=100)]
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_TEXT_CHARS)]


class ChatMessage(msgspec.Struct):
    role: Literal["system", "user", "assistant"]
    content: Annotated[str, msgspec.Meta(max_length=MAX_MESSAGE_CHARS)]


Messages = Annotated[list[ChatMessage], msgspec.Meta(min_length=1, max_length=MAX_MESSAGES)]


# --- requests: /api/openai/* (Fastify plan) ---


class ChatIn(CamelStruct, kw_only=True):
    messages: Messages
    # Accepted and ignored: the server's configured model is used (prices are per feature, not per model).
    model: Model | None = None


class MultilingualChatIn(CamelStruct, kw_only=True):
    messages: Messages
    conversation_language: Language
    response_language: Language
    translate_user_input: bool = True
    model: Model | None = None


class TranslateIn(CamelStruct, kw_only=True):
    text: Text
    target_language: Language
    source_language: Language | None = None


class TextIn(CamelStruct, kw_only=True):
    text: Text


class ContactsTextIn(CamelStruct, kw_only=True):
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_CONTACTS_TEXT_CHARS)]


class ScriptIn(CamelStruct, kw_only=True):
    campaign_type: Short
    industry: Short
    target: Short
    key_points: Annotated[list[Short], msgspec.Meta(max_length=20)] = []
    tone: Short = "professional"
    language: Language = "en"


# --- requests: the older paths (server/routes.ts) ---


class LegacyChatIn(msgspec.Struct, kw_only=True):
    messages: Messages
    model: Model | None = None
    temperature: Annotated[float, msgspec.Meta(ge=0, le=2)] = 0.7
    max_tokens: Annotated[int, msgspec.Meta(ge=1, le=4096)] = 500


class LanguagePreference(CamelStruct, kw_only=True):
    conversation_language: Language
    response_language: Language
    translate_user_input: bool = False


class LegacyMultilingualChatIn(LegacyChatIn, kw_only=True):
    language_preference: LanguagePreference


class LegacyTranslateIn(msgspec.Struct, kw_only=True):
    text: Text
    target_language: Language
    source_language: Language | None = None


class CampaignInfo(msgspec.Struct, kw_only=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
    industry: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
    description: Annotated[str, msgspec.Meta(max_length=2_000)] | None = None


class LegacyScriptIn(msgspec.Struct, kw_only=True):
    campaign_info: CampaignInfo
    language: Language = "en"


class LegacyContactsIn(CamelStruct, kw_only=True):
    content: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_CONTACTS_TEXT_CHARS)]
    file_type: Literal["csv", "excel"]
    language: Language = "en"


# --- what the model is asked to answer (structured outputs; strict JSON schema derived from these) ---


class SentimentAnswer(CamelStruct):
    sentiment: Literal["positive", "negative", "neutral"]
    score: Annotated[float, msgspec.Meta(ge=-1, le=1)]
    confidence: Annotated[float, msgspec.Meta(ge=0, le=1)]
    analysis: str


class ExtractedContact(CamelStruct):
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    company: str | None
    job_title: str | None
    industry: str | None
    notes: str | None
    confidence: Annotated[float, msgspec.Meta(ge=0, le=1)]


class ContactsAnswer(CamelStruct):
    contacts: list[ExtractedContact]


class Objection(CamelStruct):
    objection: str
    response: str


class ScriptAnswer(CamelStruct):
    script: str
    opening_line: str
    objection_handling: list[Objection]
    closing_statement: str


CallOutcome = Literal["appointment_set", "interested", "not_interested", "callback", "voicemail", "no_answer", "other"]


class CallAnalysisAnswer(CamelStruct):
    sentiment: Literal["positive", "negative", "neutral"]
    score: Annotated[float, msgspec.Meta(ge=-1, le=1)]
    summary: str
    suggested_outcome: CallOutcome
    follow_up_suggestion: str


# --- answers ---


class ChatReplyMessage(msgspec.Struct):
    role: Literal["assistant"]
    content: str


class ChatOut(CamelStruct):
    message: ChatReplyMessage
    usage: Usage


class TranslationOut(CamelStruct):
    original_text: str
    translated_text: str
    source_language: str
    target_language: str


class LegacyTranslationOut(CamelStruct):
    translated_text: str
    detected_language: str


class RatingOut(CamelStruct):
    """The older sentiment answer: 1-5 stars."""

    rating: int
    confidence: float


class ParsedContact(CamelStruct, omit_defaults=True):
    """One contact of /api/openai/parse-contacts; absent fields are left out, as the plan's prompt asked."""

    confidence: float
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    company: str | None = None
    job_title: str | None = None


class ParsedContactsOut(CamelStruct):
    contacts: list[ParsedContact]


class LegacyContact(CamelStruct, omit_defaults=True):
    """What ContactUpload posts straight on to /api/contacts/bulk: the SPA's contact field names."""

    full_name: str | None = None
    email: str | None = None
    phone_number: str | None = None
    company_name: str | None = None
    industry: str | None = None
    notes: str | None = None


class LegacyScriptOut(msgspec.Struct):
    script: str


class TranscriptionOut(CamelStruct):
    text: str
    duration: float


class LegacyTranscriptionOut(msgspec.Struct):
    text: str


def to_messages(messages: list[ChatMessage]) -> list[Message]:
    return [Message(m.role, m.content) for m in messages]
