"""Firebase's modified scrypt, so users imported from Firebase Auth log in with their old passwords.

    key = scrypt(password, salt + salt_separator, N=2**mem_cost, r=rounds, p=1, dklen=64)
    hash == AES-256-CTR(key[:32], iv=0).encrypt(signer_key)

The project's parameters are secrets (FIREBASE_HASH_CONFIG): a file path, or the text itself. Both the JSON
form (`{"base64_signer_key": ..., "base64_salt_separator": ..., "rounds": 8, "mem_cost": 14}`) and the block
the Firebase console shows (`hash_config { algorithm: SCRYPT, base64_signer_key: ..., ... }`) are accepted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from service.config import ConfigError

SETTING = "FIREBASE_HASH_CONFIG"
DERIVED_KEY_BYTES = 64
# Firebase projects use mem_cost 14 and rounds 8; the bounds only stop a typo from costing gigabytes per login.
MEM_COST_RANGE = range(1, 19)
ROUNDS_RANGE = range(1, 33)
# `name: value` pairs of the console's block; values are base64 or integers, so they contain no comma or brace.
CONSOLE_PAIR = re.compile(r"(\w+)\s*:\s*([^,\s}]+)")


@dataclass(frozen=True, slots=True)
class FirebaseHashConfig:
    signer_key: bytes
    salt_separator: bytes
    rounds: int
    mem_cost: int

    def __repr__(self) -> str:
        # The signer key is a secret: keep it out of logs and tracebacks.
        return f"FirebaseHashConfig(rounds={self.rounds}, mem_cost={self.mem_cost})"


def decode_base64(value: str) -> bytes:
    """Standard (CLI export) or URL-safe (Admin SDK) base64, padded or not. Raises ValueError."""
    text = value.strip().replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"not base64: {exc}") from None


def load_hash_config(value: str) -> FirebaseHashConfig:
    """Parse FIREBASE_HASH_CONFIG (a file path, JSON, or the console's block). Raises ConfigError."""
    text = value.strip()
    if not _looks_inline(text):
        path = Path(text).expanduser()
        try:
            text = path.read_text()
        except OSError as exc:
            raise ConfigError(f"{SETTING}: cannot read {path}: {exc.strerror}") from None
    fields = _normalized(_parse(text))
    try:
        config = FirebaseHashConfig(
            signer_key=decode_base64(str(fields["signer_key"])),
            salt_separator=decode_base64(str(fields.get("salt_separator", ""))),
            rounds=int(fields["rounds"]),
            mem_cost=int(fields["mem_cost"]),
        )
    except KeyError as exc:
        raise ConfigError(f"{SETTING}: missing {exc.args[0]}") from None
    except ValueError as exc:
        raise ConfigError(f"{SETTING}: {exc}") from None
    if config.mem_cost not in MEM_COST_RANGE or config.rounds not in ROUNDS_RANGE or not config.signer_key:
        raise ConfigError(f"{SETTING}: rounds, mem_cost or signer key out of range")
    return config


def is_usable_hash(salt_b64: str, hash_b64: str, config: FirebaseHashConfig) -> bool:
    """Whether a stored pair can ever verify: both decode, and the hash is as long as the signer key it encrypts.

    The Admin SDK without the right role exports `base64("REDACTED")` instead of the hash; such a user must be
    sent to the password reset, not told their password is wrong.
    """
    try:
        decode_base64(salt_b64)
        return len(decode_base64(hash_b64)) == len(config.signer_key)
    except ValueError:
        return False


def verify_firebase_scrypt(password: str, salt_b64: str, hash_b64: str, config: FirebaseHashConfig) -> bool:
    """True when the password matches. A malformed stored salt or hash never matches. CPU-bound (~40 ms)."""
    try:
        salt = decode_base64(salt_b64)
        expected = decode_base64(hash_b64)
    except ValueError:
        return False
    n, r, p = 1 << config.mem_cost, config.rounds, 1
    derived = hashlib.scrypt(
        password.encode(),
        salt=salt + config.salt_separator,
        n=n,
        r=r,
        p=p,
        # OpenSSL's 32 MiB default refuses larger parameters: allow exactly what scrypt needs, plus slack.
        maxmem=128 * r * (n + p + 2) + (1 << 20),
        dklen=DERIVED_KEY_BYTES,
    )
    encryptor = Cipher(algorithms.AES(derived[:32]), modes.CTR(bytes(16))).encryptor()
    actual = encryptor.update(config.signer_key) + encryptor.finalize()
    return hmac.compare_digest(actual, expected)


def _looks_inline(text: str) -> bool:
    return text.startswith("{") or "hash_config" in text or "signer_key" in text


def _parse(text: str) -> dict[str, Any]:
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{SETTING}: invalid JSON ({exc.msg})") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{SETTING}: expected a JSON object")
        nested = data.get("hash_config")
        return nested if isinstance(nested, dict) else data
    return dict(CONSOLE_PAIR.findall(text))


def _normalized(fields: dict[str, Any]) -> dict[str, Any]:
    """`base64_signer_key` / `signerKey` / `signer_key` all name the same field."""
    out: dict[str, Any] = {}
    for name, value in fields.items():
        key = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower().removeprefix("base64_")
        out["mem_cost" if key == "memory_cost" else key] = value
    return out
