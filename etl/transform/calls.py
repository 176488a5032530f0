"""``calls`` placed through Twilio."""

from __future__ import annotations

from etl.transform.common import CREATED_AT, OWNER, UPDATED_AT
from etl.transform.convert import choice, non_negative, plain_json, text, timestamp
from etl.transform.engine import Field, Ref, Spec
from service.db.vocabulary import CALL_DIRECTIONS, CALL_OUTCOMES, CALL_STATUSES

CALLS = Spec(
    name="calls",
    pattern="calls",
    table="calls",
    unique=("twilio_sid",),
    refs=(
        OWNER,
        Ref("contact_id", ("contactId", "contact"), "contacts", "contacts"),
        Ref("campaign_id", ("campaignId", "campaign"), "campaigns", "campaigns"),
    ),
    fields=(
        Field("twilio_sid", ("twilioSid", "callSid", "sid"), text),
        Field("phone_number", ("phoneNumber", "phone", "to"), text),
        Field(
            "status",
            ("status",),
            choice(CALL_STATUSES, {"in progress": "in-progress", "cancelled": "canceled", "answered": "completed"}),
            default="queued",
        ),
        Field(
            "direction",
            ("direction",),
            choice(CALL_DIRECTIONS, {"outgoing": "outbound", "incoming": "inbound"}),
            default="outbound-api",
        ),
        Field("duration_seconds", ("duration", "durationSeconds", "callDuration"), non_negative),
        Field("recording_sid", ("recordingSid",), text),
        Field("recording_url", ("recordingUrl",), text),
        Field("transcript", ("transcription", "transcript"), text),
        Field("translated_transcript", ("translatedTranscript", "translation"), text),
        Field("language", ("language",), text),
        Field("sentiment", ("sentiment",), plain_json),
        Field("outcome", ("outcome", "callOutcome"), choice(CALL_OUTCOMES, {"appointment": "appointment_set"})),
        Field("follow_up_status", ("followUpStatus",), text),
        Field("notes", ("notes",), text),
        Field("started_at", ("startedAt", "startTime"), timestamp),
        Field("ended_at", ("endedAt", "endTime"), timestamp),
        CREATED_AT,
        UPDATED_AT,
    ),
)
