"""The TwiML Twilio fetches when a call is answered, and the answers to its action URLs (always XML)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from twilio.twiml.voice_response import Dial, VoiceResponse

# Twilio transcribes recordings of 2 to 120 seconds only (error 13617), so a recording stops at 120 s.
RECORD_MAX_SECONDS = 120
RECORD_SILENCE_TIMEOUT_SECONDS = 10
HOLD_MUSIC = "https://twimlets.com/holdmusic?Bucket=com.twilio.music.classical"
# <Say> languages for the short codes campaigns store; a full code such as "nl-BE" passes through.
SAY_LANGUAGES = {
    "en": "en-US",
    "nl": "nl-NL",
    "de": "de-DE",
    "fr": "fr-FR",
    "es": "es-ES",
    "it": "it-IT",
    "pt": "pt-BR",
    "ja": "ja-JP",
    "zh": "zh-CN",
}
DEFAULT_GREETING = "Hello, this is a call from ReachImpact."
PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def say_language(language: str | None) -> str:
    if not language:
        return "en-US"
    return language if "-" in language else SAY_LANGUAGES.get(language.lower(), "en-US")


def fill_placeholders(script: str, values: Mapping[str, str | None]) -> str:
    """`{{firstName}}` and friends from the contact; an unknown or empty one is dropped, never read aloud."""
    return PLACEHOLDER.sub(lambda match: values.get(match.group(1)) or "", script)


def call_script(
    script: str | None, language: str | None, *, record: bool, recording_action: str, transcription_callback: str
) -> str:
    response = VoiceResponse()
    response.say(script or DEFAULT_GREETING, language=say_language(language))
    if record:
        response.pause(length=1)
        response.record(
            action=recording_action,
            method="POST",
            timeout=RECORD_SILENCE_TIMEOUT_SECONDS,
            max_length=RECORD_MAX_SECONDS,
            transcribe=True,
            transcribe_callback=transcription_callback,
        )
    response.hangup()
    return str(response)


def conference(room: str) -> str:
    response = VoiceResponse()
    dial = Dial()
    dial.conference(
        room,
        start_conference_on_enter=True,
        end_conference_on_exit=True,
        wait_url=HOLD_MUSIC,
        wait_method="GET",
    )
    response.append(dial)
    return str(response)


def message(text: str, language: str | None = None) -> str:
    response = VoiceResponse()
    if language:
        response.say(text, language=say_language(language))
    else:
        response.say(text)
    response.hangup()
    return str(response)


def hang_up() -> str:
    response = VoiceResponse()
    response.hangup()
    return str(response)


def empty() -> str:
    """What an SMS webhook answers when it sends no reply (Twilio's opt-out replies are its own)."""
    return '<?xml version="1.0" encoding="UTF-8"?><Response />'
