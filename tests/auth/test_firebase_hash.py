"""Firebase modified scrypt against the vector from the firebase/scrypt README, and the config formats."""

import json

import pytest

from service.auth.firebase_hash import decode_base64, load_hash_config, verify_firebase_scrypt
from service.config import ConfigError

SIGNER_KEY = "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA=="
SALT = "42xEC+ixf3L2lw=="
PASSWORD = "user1password"
HASH = "lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ=="
CONFIG_JSON = json.dumps(
    {"base64_signer_key": SIGNER_KEY, "base64_salt_separator": "Bw==", "rounds": 8, "mem_cost": 14}
)
CONSOLE_BLOCK = f"""hash_config {{
  algorithm: SCRYPT,
  base64_signer_key: {SIGNER_KEY},
  base64_salt_separator: Bw==,
  rounds: 8,
  mem_cost: 14,
}}"""


def urlsafe(value: str) -> str:
    return value.replace("+", "-").replace("/", "_").rstrip("=")


@pytest.fixture(scope="module")
def config():
    return load_hash_config(CONFIG_JSON)


def test_the_readme_vector_verifies(config):
    assert verify_firebase_scrypt(PASSWORD, SALT, HASH, config)


def test_urlsafe_base64_from_the_admin_sdk_verifies(config):
    assert verify_firebase_scrypt(PASSWORD, urlsafe(SALT), urlsafe(HASH), config)


@pytest.mark.parametrize(
    ("password", "salt", "hash_"),
    [
        ("user1passwordX", SALT, HASH),
        ("", SALT, HASH),
        (PASSWORD, "43xEC+ixf3L2lw==", HASH),
        (PASSWORD, SALT, "mSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ=="),
        (PASSWORD, "not base64!", HASH),
        (PASSWORD, SALT, "@@@"),
    ],
)
def test_anything_else_does_not_verify(config, password, salt, hash_):
    assert not verify_firebase_scrypt(password, salt, hash_, config)


def test_config_from_the_console_block_and_from_a_file(tmp_path):
    from_console = load_hash_config(CONSOLE_BLOCK)
    path = tmp_path / "hash.json"
    path.write_text(CONFIG_JSON)
    from_file = load_hash_config(str(path))
    assert from_console == from_file
    assert (from_file.rounds, from_file.mem_cost, from_file.salt_separator) == (8, 14, b"\x07")
    assert from_file.signer_key == decode_base64(SIGNER_KEY)
    assert SIGNER_KEY[:10] not in repr(from_file)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("/nonexistent/hash.json", "cannot read"),
        ("{not json", "invalid JSON"),
        ('{"base64_signer_key": "Bw==", "rounds": 8}', "missing mem_cost"),
        ('{"base64_signer_key": "Bw==", "rounds": 8, "mem_cost": 40}', "out of range"),
        ('{"base64_signer_key": "**", "rounds": 8, "mem_cost": 14}', "not base64"),
    ],
)
def test_a_bad_config_names_the_setting(value, message):
    with pytest.raises(ConfigError, match=f"FIREBASE_HASH_CONFIG.*{message}"):
        load_hash_config(value)
