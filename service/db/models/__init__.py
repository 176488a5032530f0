"""SQLAlchemy models: the schema's source of truth for Alembic. One module per aggregate."""

from service.db.models.ai import CallAnalysis
from service.db.models.analytics import AnalyticsActivity, AnalyticsEvent, AnalyticsRollup, AnalyticsRollupDelta
from service.db.models.base import Base
from service.db.models.calls import Call, CallEvent, DoNotCallNumber, SmsMessage
from service.db.models.campaigns import Campaign, CampaignContact
from service.db.models.chat import ChatMessage, ChatParticipant, ChatRoom
from service.db.models.contacts import Contact
from service.db.models.credits import CreditReservation
from service.db.models.dialer import DialerPacing, DialerPump, DialerRules, DialerTarget
from service.db.models.etl import EtlCheckpoint, EtlDeadLetter, EtlRun, FirestoreDocument
from service.db.models.realtime import RealtimeEvent
from service.db.models.users import (
    AuthSession,
    CreditLedgerEntry,
    PasswordResetToken,
    RateLimitCounter,
    RefreshToken,
    User,
)

__all__ = [
    "AnalyticsActivity",
    "AnalyticsEvent",
    "AnalyticsRollup",
    "AnalyticsRollupDelta",
    "AuthSession",
    "Base",
    "Call",
    "CallAnalysis",
    "CallEvent",
    "Campaign",
    "CampaignContact",
    "ChatMessage",
    "ChatParticipant",
    "ChatRoom",
    "Contact",
    "CreditLedgerEntry",
    "CreditReservation",
    "DialerPacing",
    "DialerPump",
    "DialerRules",
    "DialerTarget",
    "DoNotCallNumber",
    "EtlCheckpoint",
    "EtlDeadLetter",
    "EtlRun",
    "FirestoreDocument",
    "PasswordResetToken",
    "RateLimitCounter",
    "RealtimeEvent",
    "RefreshToken",
    "SmsMessage",
    "User",
]
