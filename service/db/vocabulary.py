"""The values allowed in the status, kind and role columns that the service and the import both write.

Plain tuples, apart from the models that turn them into CHECKs: the import's transform uses them, and its
staging worker process would otherwise load SQLAlchemy and every model (30 MB) for a few strings.
"""

# Twilio's call statuses; completed, busy, failed, no-answer and canceled are terminal.
CALL_STATUSES = (
    "queued",
    "initiated",
    "ringing",
    "in-progress",
    "completed",
    "busy",
    "failed",
    "no-answer",
    "canceled",
)
CALL_DIRECTIONS = ("inbound", "outbound", "outbound-api", "outbound-dial")
CALL_OUTCOMES = ("appointment_set", "interested", "not_interested", "callback", "voicemail", "no_answer", "other")
CAMPAIGN_STATUSES = ("draft", "active", "paused", "completed")
ROOM_KINDS = ("direct", "group", "channel")
CONTACT_STATUSES = ("new", "contacted", "interested", "not_interested", "converted", "do_not_call")
USER_ROLES = ("customer", "admin")
