"""Settings from the environment (12-factor). Nothing else in the code base reads os.environ.

`Settings.from_env()` validates everything at start-up, so a misconfigured deploy fails with one clear line
instead of a stack trace on the first request.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import structlog

ENVIRONMENTS = ("development", "test", "production")
LOG_FORMATS = ("json", "console")
MIN_SECRET_LENGTH = 32
# OWASP's argon2id recommendation (19 MiB, 2 passes, 1 lane): production refuses anything cheaper.
OWASP_ARGON2_MEMORY_KIB = 19456
OWASP_ARGON2_TIME_COST = 2
DEV_SECRET_FILE = "jwt_secret"  # noqa: S105 - a file name, not a secret
# The AI features, each with its model (OPENAI_MODEL_<FEATURE>) and its price in credits (AI_PRICE_<FEATURE>).
AI_MODELS = {
    "chat": "gpt-4o",
    "multilingual_chat": "gpt-4o",
    "translate": "gpt-4o",
    "sentiment": "gpt-4o",
    "parse_contacts": "gpt-4o",
    "generate_script": "gpt-4o",
    "transcribe": "whisper-1",
    "call_analysis": "gpt-4o",
}
AI_PRICES = {
    "chat": 1,
    "multilingual_chat": 2,
    "translate": 1,
    "sentiment": 1,
    "parse_contacts": 2,
    "generate_script": 3,
    "transcribe": 5,
    "call_analysis": 3,
}


class ConfigError(Exception):
    """A setting is missing or wrong; the message names the variable."""


@dataclass(frozen=True, slots=True)
class Settings:
    env: str = "development"
    # None means: start the embedded PostgreSQL server under data_dir.
    database_url: str | None = None
    data_dir: Path = field(default_factory=lambda: Path.cwd() / ".data")
    db_pool_min: int = 2
    db_pool_max: int = 10
    # An outage answers 503 within these bounds instead of holding requests (asyncpg waits 60 s / forever).
    db_connect_timeout_seconds: int = 5
    db_acquire_timeout_seconds: int = 10
    migrate_on_start: bool = True

    host: str = "127.0.0.1"
    port: int = 8000
    public_base_url: str = "http://127.0.0.1:8000"
    cors_origins: tuple[str, ...] = ()
    max_request_body_bytes: int = 1024 * 1024
    log_level: str = "INFO"
    log_format: str = "console"

    jwt_secret: str = ""
    # Secrets of keys being rotated out: tokens they signed still verify until they expire.
    jwt_previous_secrets: tuple[str, ...] = ()
    jwt_issuer: str = "reachimpact"
    jwt_audience: str = "reachimpact-api"
    access_token_ttl_seconds: int = 15 * 60
    refresh_token_ttl_seconds: int = 30 * 24 * 3600
    password_reset_ttl_seconds: int = 3600
    # Client IPs come from proxy headers only when the proxy is trusted ("fly", or a comma list of CIDRs).
    trusted_proxies: tuple[str, ...] = ()
    # Failed logins (service/auth/throttle.py): per (account, address) pair a few free failures, then delays
    # doubling up to a cap, remembered a day; per address a ceiling across accounts. Addresses the account
    # logged in from recently skip the pair delays.
    login_free_failures: int = 5
    login_max_delay_seconds: int = 15 * 60
    login_failure_memory_seconds: int = 24 * 3600
    login_max_failures_per_ip: int = 50
    login_failure_window_seconds: int = 15 * 60
    login_known_address_days: int = 30
    # Reset mails asked for, per e-mail and per address, within the window (each one may send a mail).
    password_reset_max_per_email: int = 3
    password_reset_max_per_ip: int = 20
    password_reset_window_seconds: int = 3600
    password_hash_concurrency: int = 4
    # Chat sends per user and window, counted in Postgres so every instance shares the budget.
    chat_max_messages_per_window: int = 60
    chat_message_window_seconds: int = 60
    # Event streams (service/realtime): a comment this often on a quiet stream, and how far a client may fall
    # behind before it is cut off (it then resumes by id).
    events_heartbeat_seconds: int = 15
    events_max_queued: int = 256
    # argon2id cost; only tests lower it (production refuses less than OWASP's).
    argon2_memory_kib: int = OWASP_ARGON2_MEMORY_KIB
    argon2_time_cost: int = OWASP_ARGON2_TIME_COST
    # The page the password-reset mail links to (the SPA's); the token is appended as `?token=`.
    password_reset_url: str = ""

    smtp_url: str | None = None
    mail_from: str = "ReachImpact <no-reply@reachimpact.local>"
    # Firebase modified-scrypt parameters of the imported project: a file path or the JSON itself.
    firebase_hash_config: str | None = None
    default_phone_region: str = "US"
    # AI credits a new account starts with (the SPA's plan: 50).
    initial_ai_credits: int = 50
    # A built SPA (the directory holding index.html) served at `/`; None serves the API only.
    spa_dir: Path | None = None

    # Twilio: without account and token the service runs, and the call routes answer 503.
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_phone_number: str = ""
    twilio_messaging_service_sid: str = ""
    # A Twilio-compatible test double can stand in for the real API (the tests' fake does).
    twilio_api_base_url: str = "https://api.twilio.com"
    twilio_machine_detection: bool = False
    # How long a request to Twilio may take before it gives up.
    twilio_timeout_seconds: int = 10
    # The dialer (service/dialer/engine.py): a dial goes out at most the send deadline after its claim, or never;
    # a claim still without a sid when its lease ends is reconciled against Twilio. The lease must exceed the
    # deadline plus the request timeout, so nothing of the claim can still be on its way then (refused otherwise).
    dialer_send_deadline_seconds: int = 5
    dialer_lease_seconds: int = 20
    # Credits reserved per call placed and per SMS sent (charged on success, refunded on failure).
    call_credits: int = 10
    sms_credits: int = 1

    # OpenAI: without a key the service runs, and the AI routes answer 503.
    openai_api_key: str = ""
    # Any OpenAI-compatible server (the tests' loopback fake, a proxy) can stand in for the real API.
    openai_base_url: str = "https://api.openai.com/v1"
    # The SDK's defaults (600 s, 2 retries) would hold a request for half an hour; these bound it.
    openai_timeout_seconds: int = 30
    openai_max_retries: int = 2
    openai_models: dict[str, str] = field(default_factory=lambda: dict(AI_MODELS))
    ai_prices: dict[str, int] = field(default_factory=lambda: dict(AI_PRICES))

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def trusted_origins(self) -> frozenset[str]:
        """Origins whose pages may write with the session cookie: the service's own and the CORS ones."""
        parts = urlsplit(self.public_base_url)
        return frozenset({f"{parts.scheme}://{parts.netloc}", *self.cors_origins})

    @property
    def twilio_missing(self) -> list[str]:
        """The Twilio settings still needed before calls and SMS can work (empty when configured)."""
        missing = [
            name
            for name, value in (
                ("TWILIO_ACCOUNT_SID", self.twilio_account_sid),
                ("TWILIO_AUTH_TOKEN", self.twilio_auth_token),
            )
            if not value
        ]
        if not (self.twilio_phone_number or self.twilio_messaging_service_sid):
            missing.append("TWILIO_PHONE_NUMBER or TWILIO_MESSAGING_SERVICE_SID")
        return missing

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        reader = _Reader(env)
        settings = cls(
            env=reader.choice("ENV", ENVIRONMENTS, "development"),
            database_url=reader.text("DATABASE_URL") or None,
            data_dir=Path(reader.text("REACHIMPACT_DATA_DIR") or Path.cwd() / ".data").resolve(),
            db_pool_min=reader.integer("DB_POOL_MIN", 2, minimum=0),
            db_pool_max=reader.integer("DB_POOL_MAX", 10, minimum=1),
            db_connect_timeout_seconds=reader.integer("DB_CONNECT_TIMEOUT_SECONDS", 5, minimum=1),
            db_acquire_timeout_seconds=reader.integer("DB_ACQUIRE_TIMEOUT_SECONDS", 10, minimum=1),
            migrate_on_start=reader.boolean("MIGRATE_ON_START", True),
            host=reader.text("HOST") or "127.0.0.1",
            port=reader.integer("PORT", 8000, minimum=1),
            public_base_url=(reader.text("PUBLIC_BASE_URL") or "").rstrip("/"),
            cors_origins=reader.items("CORS_ORIGINS"),
            max_request_body_bytes=reader.integer("MAX_REQUEST_BODY_BYTES", 1024 * 1024, minimum=1024),
            log_level=reader.choice("LOG_LEVEL", ("DEBUG", "INFO", "WARNING", "ERROR"), "INFO", upper=True),
            log_format=reader.choice("LOG_FORMAT", LOG_FORMATS, ""),
            jwt_secret=reader.text("JWT_SECRET"),
            jwt_previous_secrets=reader.items("JWT_PREVIOUS_SECRETS"),
            jwt_issuer=reader.text("JWT_ISSUER") or "reachimpact",
            jwt_audience=reader.text("JWT_AUDIENCE") or "reachimpact-api",
            access_token_ttl_seconds=reader.integer("ACCESS_TOKEN_TTL_SECONDS", 15 * 60, minimum=30),
            refresh_token_ttl_seconds=reader.integer("REFRESH_TOKEN_TTL_SECONDS", 30 * 24 * 3600, minimum=60),
            password_reset_ttl_seconds=reader.integer("PASSWORD_RESET_TTL_SECONDS", 3600, minimum=60),
            trusted_proxies=reader.items("TRUSTED_PROXIES"),
            login_free_failures=reader.integer("LOGIN_FREE_FAILURES", 5, minimum=1),
            login_max_delay_seconds=reader.integer("LOGIN_MAX_DELAY_SECONDS", 15 * 60, minimum=1),
            login_failure_memory_seconds=reader.integer("LOGIN_FAILURE_MEMORY_SECONDS", 24 * 3600, minimum=60),
            login_max_failures_per_ip=reader.integer("LOGIN_MAX_FAILURES_PER_IP", 50, minimum=1),
            login_failure_window_seconds=reader.integer("LOGIN_FAILURE_WINDOW_SECONDS", 15 * 60, minimum=1),
            login_known_address_days=reader.integer("LOGIN_KNOWN_ADDRESS_DAYS", 30, minimum=0),
            password_reset_max_per_email=reader.integer("PASSWORD_RESET_MAX_PER_EMAIL", 3, minimum=1),
            password_reset_max_per_ip=reader.integer("PASSWORD_RESET_MAX_PER_IP", 20, minimum=1),
            password_reset_window_seconds=reader.integer("PASSWORD_RESET_WINDOW_SECONDS", 3600, minimum=1),
            password_hash_concurrency=reader.integer("PASSWORD_HASH_CONCURRENCY", 4, minimum=1),
            chat_max_messages_per_window=reader.integer("CHAT_MAX_MESSAGES_PER_WINDOW", 60, minimum=1),
            chat_message_window_seconds=reader.integer("CHAT_MESSAGE_WINDOW_SECONDS", 60, minimum=1),
            events_heartbeat_seconds=reader.integer("EVENTS_HEARTBEAT_SECONDS", 15, minimum=1),
            events_max_queued=reader.integer("EVENTS_MAX_QUEUED", 256, minimum=1),
            argon2_memory_kib=reader.integer("ARGON2_MEMORY_KIB", OWASP_ARGON2_MEMORY_KIB, minimum=8),
            argon2_time_cost=reader.integer("ARGON2_TIME_COST", OWASP_ARGON2_TIME_COST, minimum=1),
            password_reset_url=reader.text("PASSWORD_RESET_URL"),
            smtp_url=reader.text("SMTP_URL") or None,
            mail_from=reader.text("MAIL_FROM") or "ReachImpact <no-reply@reachimpact.local>",
            firebase_hash_config=reader.text("FIREBASE_HASH_CONFIG") or None,
            default_phone_region=(reader.text("DEFAULT_PHONE_REGION") or "US").upper(),
            initial_ai_credits=reader.integer("INITIAL_AI_CREDITS", 50, minimum=0),
            spa_dir=Path(spa_dir).resolve() if (spa_dir := reader.text("SPA_DIR")) else None,
            twilio_account_sid=reader.text("TWILIO_ACCOUNT_SID"),
            twilio_auth_token=reader.text("TWILIO_AUTH_TOKEN"),
            twilio_phone_number=reader.text("TWILIO_PHONE_NUMBER"),
            twilio_messaging_service_sid=reader.text("TWILIO_MESSAGING_SERVICE_SID"),
            twilio_api_base_url=(reader.text("TWILIO_API_BASE_URL") or "https://api.twilio.com").rstrip("/"),
            twilio_machine_detection=reader.boolean("TWILIO_MACHINE_DETECTION", False),
            twilio_timeout_seconds=reader.integer("TWILIO_TIMEOUT_SECONDS", 10, minimum=1),
            # Above the 2 s the dialer claims slots ahead, or the later slots of a claim would all be given back.
            dialer_send_deadline_seconds=reader.integer("DIALER_SEND_DEADLINE_SECONDS", 5, minimum=3),
            dialer_lease_seconds=reader.integer("DIALER_LEASE_SECONDS", 20, minimum=1),
            call_credits=reader.integer("CALL_CREDITS", 10, minimum=0),
            sms_credits=reader.integer("SMS_CREDITS", 1, minimum=0),
            openai_api_key=reader.text("OPENAI_API_KEY"),
            openai_base_url=(reader.text("OPENAI_BASE_URL") or "https://api.openai.com/v1").rstrip("/"),
            openai_timeout_seconds=reader.integer("OPENAI_TIMEOUT_SECONDS", 30, minimum=1),
            openai_max_retries=reader.integer("OPENAI_MAX_RETRIES", 2, minimum=0),
            openai_models={
                name: reader.text(f"OPENAI_MODEL_{name.upper()}") or model for name, model in AI_MODELS.items()
            },
            ai_prices={
                name: reader.integer(f"AI_PRICE_{name.upper()}", price, minimum=0) for name, price in AI_PRICES.items()
            },
        )
        return settings.finalized()

    def finalized(self) -> Settings:
        """Fill environment-dependent defaults and refuse what production must not run with."""
        updates: dict[str, Any] = {}
        if not self.log_format:
            updates["log_format"] = "json" if self.is_production else "console"
        if not self.public_base_url:
            if self.is_production:
                raise ConfigError("PUBLIC_BASE_URL must be set in production (it signs webhooks and mail links)")
            updates["public_base_url"] = f"http://{self.host}:{self.port}"
        if not self.password_reset_url:
            base = updates.get("public_base_url", self.public_base_url)
            updates["password_reset_url"] = f"{base}/reset-password"
        if self.is_production:
            if not self.database_url:
                raise ConfigError("DATABASE_URL must be set in production")
            if len(self.jwt_secret) < MIN_SECRET_LENGTH:
                raise ConfigError(
                    f"JWT_SECRET must be set to at least {MIN_SECRET_LENGTH} random characters in production"
                )
            weak = [s for s in self.jwt_previous_secrets if len(s) < MIN_SECRET_LENGTH]
            if weak:
                raise ConfigError(f"JWT_PREVIOUS_SECRETS holds a secret shorter than {MIN_SECRET_LENGTH} characters")
            if self.argon2_memory_kib < OWASP_ARGON2_MEMORY_KIB or self.argon2_time_cost < OWASP_ARGON2_TIME_COST:
                raise ConfigError(
                    f"ARGON2_MEMORY_KIB/ARGON2_TIME_COST below OWASP's {OWASP_ARGON2_MEMORY_KIB}/"
                    f"{OWASP_ARGON2_TIME_COST} are for tests only"
                )
        elif not self.jwt_secret:
            updates["jwt_secret"] = _development_secret(self.data_dir)
        if self.spa_dir is not None and not (self.spa_dir / "index.html").is_file():
            raise ConfigError(f"SPA_DIR must be a built SPA: {self.spa_dir}/index.html does not exist")
        if "*" in self.cors_origins:
            raise ConfigError("CORS_ORIGINS cannot be '*': cookies are sent cross-origin, so list the origins")
        if self.db_pool_min > self.db_pool_max:
            raise ConfigError("DB_POOL_MIN must not exceed DB_POOL_MAX")
        if self.dialer_lease_seconds <= self.dialer_send_deadline_seconds + self.twilio_timeout_seconds:
            raise ConfigError(
                "DIALER_LEASE_SECONDS must exceed DIALER_SEND_DEADLINE_SECONDS + TWILIO_TIMEOUT_SECONDS: "
                "a dial could still be on its way when its claim is reconciled"
            )
        return replace(self, **updates) if updates else self


def _development_secret(data_dir: Path) -> str:
    """A random secret made once per data dir, so development tokens survive restarts."""
    path = data_dir / DEV_SECRET_FILE
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    path.touch(mode=0o600)
    path.write_text(secret)
    structlog.get_logger().warning("JWT_SECRET is not set: using a generated development secret", path=str(path))
    return secret


class _Reader:
    """Typed access to environment variables, with errors that name the variable."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def text(self, name: str) -> str:
        return self.env.get(name, "").strip()

    def items(self, name: str) -> tuple[str, ...]:
        return tuple(item.strip() for item in self.text(name).split(",") if item.strip())

    def integer(self, name: str, default: int, *, minimum: int) -> int:
        raw = self.text(name)
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
        if value < minimum:
            raise ConfigError(f"{name} must be at least {minimum}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        raw = self.text(name).lower()
        if not raw:
            return default
        if raw in ("1", "true", "yes", "on"):
            return True
        if raw in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{name} must be true or false, not {raw!r}")

    def choice(self, name: str, allowed: tuple[str, ...], default: str, *, upper: bool = False) -> str:
        raw = self.text(name)
        raw = raw.upper() if upper else raw.lower()
        if not raw:
            return default
        if raw not in allowed:
            raise ConfigError(f"{name} must be one of {', '.join(allowed)}, not {raw!r}")
        return raw
