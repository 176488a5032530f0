"""Who is calling: the identity and the client a handler acts for.

Neutral ground: any feature may import it, and it imports no feature, so `users` (for one) can know its caller
without importing `auth`, which authenticates it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import msgspec

USER_AGENT_MAX = 300


class AuthUser(msgspec.Struct, frozen=True):
    """Who is calling: what every handler filters its queries by."""

    id: uuid.UUID
    role: str
    session_id: uuid.UUID

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True, slots=True)
class Client:
    """Where a request comes from (the proxy-aware address and the user agent), for throttles and sessions."""

    ip: str
    user_agent: str | None

    def __post_init__(self) -> None:
        if self.user_agent and len(self.user_agent) > USER_AGENT_MAX:
            object.__setattr__(self, "user_agent", self.user_agent[:USER_AGENT_MAX])
