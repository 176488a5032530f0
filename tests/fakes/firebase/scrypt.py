"""Firebase's modified scrypt, hashing side: makes the real hashes the tests import into the Auth emulator.

(The service only verifies; tests need to create hashes the way Firebase does.)
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

# The sample project parameters published with Firebase's scrypt (not a secret).
SAMPLE_CONFIG = {
    "base64_signer_key": "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==",
    "base64_salt_separator": "Bw==",
    "rounds": 8,
    "mem_cost": 14,
}


def firebase_scrypt(password: str, salt: bytes, config: dict = SAMPLE_CONFIG) -> bytes:
    rounds, mem_cost = int(config["rounds"]), int(config["mem_cost"])
    key = hashlib.scrypt(
        password.encode(),
        salt=salt + base64.b64decode(config["base64_salt_separator"]),
        n=2**mem_cost,
        r=rounds,
        p=1,
        dklen=64,
        maxmem=256 * 2**mem_cost * rounds,
    )
    encryptor = Cipher(algorithms.AES(key[:32]), modes.CTR(b"\0" * 16)).encryptor()
    return encryptor.update(base64.b64decode(config["base64_signer_key"])) + encryptor.finalize()
