"""Credits move by reservation: reserve before a paid call (Twilio, OpenAI), charge on success, refund on failure.

Every method takes the caller's connection, so a reservation commits or rolls back with the row that needs it
(the call, the message). Settling is idempotent: a second charge or refund of one reservation does nothing,
which is what webhooks and retried jobs need. The service holds no state; it is built once at start-up
(service/credits/runtime.py) and handed to the features that spend credits (AI, calls).
"""

from __future__ import annotations

import uuid

import asyncpg

from service.credits import repository
from service.errors import InsufficientCredits


class CreditsService:
    async def reserve(self, connection: asyncpg.Connection, user_id: uuid.UUID, amount: int, purpose: str) -> uuid.UUID:
        """Take `amount` from the balance now, or raise InsufficientCredits (402) and take nothing."""
        (reservation_id,) = await self.reserve_many(connection, user_id, amount, purpose, 1)
        return reservation_id

    async def reserve_many(
        self, connection: asyncpg.Connection, user_id: uuid.UUID, amount: int, purpose: str, count: int
    ) -> list[uuid.UUID]:
        """`count` reservations of `amount` each (a dialer claim's calls), all or none: InsufficientCredits (402)
        when the balance does not cover them all."""
        reservations = await repository.reserve(connection, user_id, amount, purpose, count)
        if reservations is None:
            raise InsufficientCredits(amount * count, await repository.balance(connection, user_id))
        return reservations

    async def charge(self, connection: asyncpg.Connection, reservation_id: uuid.UUID) -> bool:
        return await repository.charge(connection, reservation_id)

    async def refund(self, connection: asyncpg.Connection, reservation_id: uuid.UUID) -> bool:
        return await repository.refund(connection, reservation_id)

    async def is_held(self, connection: asyncpg.Connection, reservation_id: uuid.UUID | None) -> bool:
        """True while the reservation holds its credits (neither charged nor refunded)."""
        if reservation_id is None:
            return False
        return await repository.status(connection, reservation_id) == "reserved"
