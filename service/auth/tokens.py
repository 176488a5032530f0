"""Short-lived access tokens: HS256 JWTs signed with pyjwt, with a `kid` so keys can rotate.

The current key signs; previous keys (JWT_PREVIOUS_SECRETS) still verify until their tokens expire. Only HS256
is accepted, so `alg=none` and algorithm-confusion tokens are refused before any signature check.
"""

from __future__ import annotations

import hashlib
import time
import uuid

import jwt
import msgspec

from service.config import Settings

ALGORITHM = "HS256"


class AccessClaims(msgspec.Struct, frozen=True):
    sub: str
    sid: str
    role: str
    iat: int
    exp: int
    jti: str


class InvalidToken(Exception):
    """The token is malformed, expired or signed by an unknown key."""


class ExpiredToken(InvalidToken):
    """A genuine token past its `exp`: the client should refresh, not log in again."""


def key_id(secret: str) -> str:
    """A public, stable name for a secret: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


class TokenService:
    def __init__(self, settings: Settings) -> None:
        self.issuer = settings.jwt_issuer
        self.audience = settings.jwt_audience
        self.ttl = settings.access_token_ttl_seconds
        self.current_kid = key_id(settings.jwt_secret)
        self.current_secret = settings.jwt_secret
        self.keys = {key_id(s): s for s in (settings.jwt_secret, *settings.jwt_previous_secrets)}

    def issue(self, *, user_id: uuid.UUID, session_id: uuid.UUID, role: str) -> tuple[str, AccessClaims]:
        now = int(time.time())
        claims = AccessClaims(
            sub=str(user_id), sid=str(session_id), role=role, iat=now, exp=now + self.ttl, jti=uuid.uuid4().hex
        )
        payload = {**msgspec.structs.asdict(claims), "iss": self.issuer, "aud": self.audience}
        token = jwt.encode(payload, self.current_secret, algorithm=ALGORITHM, headers={"kid": self.current_kid})
        return token, claims

    def verify(self, token: str, *, allow_expired: bool = False) -> AccessClaims:
        """The claims of a token this service signed. `allow_expired` skips only the expiry check: for tokens
        whose session is then checked in the database (see sessions.py)."""
        try:
            header = jwt.get_unverified_header(token)
            kid = header.get("kid", self.current_kid)
            secret = self.keys.get(kid) if isinstance(kid, str) else None
            if secret is None or header.get("alg") != ALGORITHM:
                raise InvalidToken("unknown signing key or algorithm")
            payload = jwt.decode(
                token,
                secret,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["sub", "sid", "exp", "iat", "jti", "iss", "aud"], "verify_exp": not allow_expired},
            )
            return msgspec.convert(payload, AccessClaims)
        except jwt.ExpiredSignatureError as exc:
            raise ExpiredToken(str(exc)) from exc
        except (jwt.PyJWTError, msgspec.ValidationError) as exc:
            raise InvalidToken(str(exc)) from exc
