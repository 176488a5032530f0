"""The AI routes, in both families the SPA calls: /api/openai/* (api-adapter.ts's openAIAPI) and the older
/api/chat, /api/translate ... (client/src/lib/openai.ts, VoiceRecorder, ContactUpload). HTTP in and out only."""

from __future__ import annotations

from litestar import Request, Router, post
from litestar.datastructures import State, UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.params import JSONBody

from service.ai.schemas import (
    MAX_AUDIO_BYTES,
    ChatIn,
    ChatOut,
    ContactsTextIn,
    LegacyChatIn,
    LegacyContact,
    LegacyContactsIn,
    LegacyMultilingualChatIn,
    LegacyScriptIn,
    LegacyScriptOut,
    LegacyTranscriptionOut,
    LegacyTranslateIn,
    LegacyTranslationOut,
    MultilingualChatIn,
    ParsedContact,
    ParsedContactsOut,
    RatingOut,
    ScriptAnswer,
    ScriptIn,
    SentimentAnswer,
    TextIn,
    TranscriptionOut,
    TranslateIn,
    TranslationOut,
)
from service.ai.service import AIService
from service.errors import ValidationFailed
from service.openai import Transcript
from service.web.caller import AuthUser
from service.web.openapi import Body, documented, text

# The audio plus the multipart envelope around it; beyond, Litestar answers 413 before reading further.
UPLOAD_MAX_BYTES = MAX_AUDIO_BYTES + 64 * 1024
AI = NamedDependency[AIService]
# Every AI operation reserves credits (402) and calls OpenAI (502; 503 when no key is configured).
PRICED = documented(errors=(402, 502))
AUDIO = Body(
    {
        "multipart/form-data": Schema(
            type=OpenAPIType.OBJECT, properties={"audio": text(format="binary")}, required=["audio"]
        )
    },
    description="the recording in the multipart field `audio`",
)
AuthRequest = Request[AuthUser, object, State]


async def transcription(request: AuthRequest, ai: AIService) -> Transcript:
    """The multipart field `audio` (VoiceRecorder's), transcribed."""
    content_type, _ = request.content_type
    if content_type != RequestEncodingType.MULTI_PART:
        raise ValidationFailed.field(
            "audio", "is required", message="Send the recording as multipart/form-data in the field 'audio'"
        )
    upload = (await request.form()).get("audio")
    if not isinstance(upload, UploadFile):
        raise ValidationFailed.field("audio", "is required", message="Audio file is required (field 'audio')")
    audio = await upload.read()
    return await ai.transcribe(
        request.user.id, audio, upload.filename or "", upload.content_type or "application/octet-stream"
    )


# --- /api/openai/* ---


@PRICED
@post("/chat", status_code=200, summary="Chat with the assistant (price: chat)")
async def chat(request: AuthRequest, ai: AI, data: JSONBody[ChatIn]) -> ChatOut:
    return await ai.chat(request.user.id, data.messages)


@PRICED
@post("/multilingual-chat", status_code=200, summary="Chat across languages (price: multilingual_chat)")
async def multilingual_chat(request: AuthRequest, ai: AI, data: JSONBody[MultilingualChatIn]) -> ChatOut:
    return await ai.multilingual_chat(
        request.user.id,
        data.messages,
        conversation_language=data.conversation_language,
        response_language=data.response_language,
        translate_user_input=data.translate_user_input,
    )


@PRICED
@post("/translate", status_code=200, summary="Translate a text (price: translate)")
async def translate(request: AuthRequest, ai: AI, data: JSONBody[TranslateIn]) -> TranslationOut:
    translated = await ai.translate(request.user.id, data.text, data.target_language, data.source_language)
    return TranslationOut(data.text, translated, data.source_language or "auto", data.target_language)


@PRICED
@post("/analyze-sentiment", status_code=200, summary="Sentiment of a text (price: sentiment)")
async def analyze_sentiment(request: AuthRequest, ai: AI, data: JSONBody[TextIn]) -> SentimentAnswer:
    return await ai.sentiment(request.user.id, data.text)


@PRICED
@post("/parse-contacts", status_code=200, summary="Contacts found in a pasted text (price: parse_contacts)")
async def parse_contacts(request: AuthRequest, ai: AI, data: JSONBody[ContactsTextIn]) -> ParsedContactsOut:
    answer = await ai.parse_contacts(request.user.id, data.text)
    return ParsedContactsOut(
        [
            ParsedContact(c.confidence, c.first_name, c.last_name, c.email, c.phone, c.company, c.job_title)
            for c in answer.contacts
        ]
    )


@PRICED
@post("/generate-script", status_code=200, summary="A call script (price: generate_script)")
async def generate_script(request: AuthRequest, ai: AI, data: JSONBody[ScriptIn]) -> ScriptAnswer:
    return await ai.generate_script(request.user.id, data)


@documented(body=AUDIO, errors=(402, 502))
@post("/transcribe", status_code=200, request_max_body_size=UPLOAD_MAX_BYTES, summary="Transcribe (price: transcribe)")
async def transcribe(request: AuthRequest, ai: AI) -> TranscriptionOut:
    result = await transcription(request, ai)
    return TranscriptionOut(result.text, result.duration or 0.0)


openai_router = Router(
    path="/api/openai",
    route_handlers=[chat, multilingual_chat, translate, analyze_sentiment, parse_contacts, generate_script, transcribe],
    tags=["ai"],
)


# --- the older paths ---


@PRICED
@post("/api/chat", status_code=200, tags=["ai"], summary="Chat (older path; price: chat)")
async def legacy_chat(request: AuthRequest, ai: AI, data: JSONBody[LegacyChatIn]) -> ChatOut:
    return await ai.chat(request.user.id, data.messages, temperature=data.temperature, max_tokens=data.max_tokens)


@PRICED
@post("/api/multilingual-chat", status_code=200, tags=["ai"], summary="Multilingual chat (older path)")
async def legacy_multilingual_chat(request: AuthRequest, ai: AI, data: JSONBody[LegacyMultilingualChatIn]) -> ChatOut:
    preference = data.language_preference
    return await ai.multilingual_chat(
        request.user.id,
        data.messages,
        conversation_language=preference.conversation_language,
        response_language=preference.response_language,
        translate_user_input=preference.translate_user_input,
        temperature=data.temperature,
        max_tokens=data.max_tokens,
    )


@PRICED
@post("/api/translate", status_code=200, tags=["ai"], summary="Translate (older path; price: translate)")
async def legacy_translate(request: AuthRequest, ai: AI, data: JSONBody[LegacyTranslateIn]) -> LegacyTranslationOut:
    translated = await ai.translate(request.user.id, data.text, data.target_language, data.source_language)
    return LegacyTranslationOut(translated, data.source_language or "auto-detected")


@PRICED
@post("/api/analyze-sentiment", status_code=200, tags=["ai"], summary="1-5 star sentiment (older path)")
async def legacy_sentiment(request: AuthRequest, ai: AI, data: JSONBody[TextIn]) -> RatingOut:
    answer = await ai.sentiment(request.user.id, data.text)
    # The score's -1..1 onto the older 1..5 stars (neutral 0 is 3 stars).
    return RatingOut(rating=max(1, min(5, round(answer.score * 2 + 3))), confidence=answer.confidence)


@PRICED
@post("/api/parse-contacts", status_code=200, tags=["ai"], summary="Contacts from CSV/Excel content (older path)")
async def legacy_parse_contacts(request: AuthRequest, ai: AI, data: JSONBody[LegacyContactsIn]) -> list[LegacyContact]:
    kind = "CSV" if data.file_type == "csv" else "Excel"
    hint = f"The text is {kind} content; it may be written in {data.language}."
    answer = await ai.parse_contacts(request.user.id, data.content, hint=hint)
    return [
        LegacyContact(
            full_name=" ".join(part for part in (c.first_name, c.last_name) if part) or None,
            email=c.email,
            phone_number=c.phone,
            company_name=c.company,
            industry=c.industry,
            notes=c.notes,
        )
        for c in answer.contacts
    ]


@PRICED
@post("/api/generate-script", status_code=200, tags=["ai"], summary="A call script (older path)")
async def legacy_generate_script(request: AuthRequest, ai: AI, data: JSONBody[LegacyScriptIn]) -> LegacyScriptOut:
    info = data.campaign_info
    brief = ScriptIn(
        campaign_type="outbound calling campaign", industry=info.industry, target="prospects", language=data.language
    )
    answer = await ai.generate_script(request.user.id, brief, name=info.name, description=info.description)
    return LegacyScriptOut(answer.script)


@documented(body=AUDIO, errors=(402, 502))
@post(
    "/api/transcribe",
    status_code=200,
    request_max_body_size=UPLOAD_MAX_BYTES,
    tags=["ai"],
    summary="Transcribe the multipart field 'audio' (older path)",
)
async def legacy_transcribe(request: AuthRequest, ai: AI) -> LegacyTranscriptionOut:
    return LegacyTranscriptionOut((await transcription(request, ai)).text)


legacy_routes = [
    legacy_chat,
    legacy_multilingual_chat,
    legacy_translate,
    legacy_sentiment,
    legacy_parse_contacts,
    legacy_generate_script,
    legacy_transcribe,
]
