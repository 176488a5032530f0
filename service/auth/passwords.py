"""Password hashing: argon2id for every password set here, Firebase's scrypt for imported ones.

Hashing is CPU- and memory-bound (argon2id at OWASP's parameters: about 30 ms and 19 MiB; Firebase scrypt about
45 ms and 16 MiB), so it runs on a small dedicated thread pool behind a semaphore: a login flood queues instead
of blocking the event loop or allocating memory per request. The pool's threads run at a lower OS priority, so
when the CPUs are saturated the event loop (every other request) still gets them first.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import structlog
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from service.auth.firebase_hash import (
    FirebaseHashConfig,
    is_usable_hash,
    load_hash_config,
    verify_firebase_scrypt,
)
from service.config import Settings

log = structlog.get_logger()

T = TypeVar("T")
HASHING_THREAD_NICENESS = 10


@dataclass(frozen=True, slots=True)
class StoredPassword:
    """What a users row holds about its password."""

    password_hash: str | None
    legacy_hash: str | None
    legacy_salt: str | None


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    # False when the account has no password this system can check (Google/phone sign-in, hash not exported).
    usable: bool
    # Set when the stored hash must be replaced: a legacy Firebase hash, or argon2id with outdated parameters.
    new_hash: str | None = None


def _lower_thread_priority() -> None:
    # On Linux a thread id is a valid PRIO_PROCESS target and the niceness applies to that thread only.
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASHING_THREAD_NICENESS)


class Passwords:
    def __init__(self, settings: Settings) -> None:
        self.hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_kib, parallelism=1
        )
        self.firebase: FirebaseHashConfig | None = (
            load_hash_config(settings.firebase_hash_config) if settings.firebase_hash_config else None
        )
        self._slots = asyncio.Semaphore(settings.password_hash_concurrency)
        self._executor = ThreadPoolExecutor(
            settings.password_hash_concurrency, thread_name_prefix="password-hash", initializer=_lower_thread_priority
        )
        # An unknown e-mail is checked against this, so it costs the same as a known one.
        self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))

    async def hash(self, password: str) -> str:
        async with self._slots:
            return await self._in_thread(self.hasher.hash, password)

    async def check(
        self,
        stored: StoredPassword | None,
        password: str,
        *,
        admit: Callable[[], Awaitable[None]] | None = None,
        judged: Callable[[Verdict], Awaitable[None]] | None = None,
    ) -> Verdict:
        """Both hooks run while this check holds its hashing slot. `admit` first: a limit reached while the check
        queued (a burst of guesses) still refuses it, by raising, before any hashing. `judged` last, with the
        verdict: what it records is there before the next queued check's `admit` looks."""
        async with self._slots:
            if admit is not None:
                await admit()
            verdict = await self._in_thread(self._check, stored, password)
            if judged is not None:
                await judged(verdict)
            return verdict

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _in_thread(self, function: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    def _check(self, stored: StoredPassword | None, password: str) -> Verdict:
        if stored and stored.password_hash:
            return self._check_argon2(stored.password_hash, password)
        if stored and stored.legacy_hash and stored.legacy_salt:
            return self._check_firebase(stored.legacy_hash, stored.legacy_salt, password)
        return self._unusable(password)

    def _check_firebase(self, legacy_hash: str, legacy_salt: str, password: str) -> Verdict:
        if self.firebase is None:
            log.warning("a user holds a Firebase hash but FIREBASE_HASH_CONFIG is not set")
            return self._unusable(password)
        if not is_usable_hash(legacy_salt, legacy_hash, self.firebase):
            return self._unusable(password)
        ok = verify_firebase_scrypt(password, legacy_salt, legacy_hash, self.firebase)
        return Verdict(ok=ok, usable=True, new_hash=self.hasher.hash(password) if ok else None)

    def _check_argon2(self, password_hash: str, password: str) -> Verdict:
        try:
            self.hasher.verify(password_hash, password)
        except VerifyMismatchError:
            return Verdict(ok=False, usable=True)
        except (InvalidHashError, VerificationError):
            log.warning("a user holds an unreadable argon2 hash")
            return Verdict(ok=False, usable=False)
        outdated = self.hasher.check_needs_rehash(password_hash)
        return Verdict(ok=True, usable=True, new_hash=self.hasher.hash(password) if outdated else None)

    def _unusable(self, password: str) -> Verdict:
        # The same work as a real check, so the answer's timing does not tell whether the account exists.
        with contextlib.suppress(VerifyMismatchError):
            self.hasher.verify(self._dummy_hash, password)
        return Verdict(ok=False, usable=False)
