"""Writes this example: a ReachImpact-shaped Firebase export with real Firebase scrypt password hashes.

    python examples/generate.py

- ``hash.json``: the project's hash parameters, as the Firebase console shows them (a made-up signer key).
- ``users.json``: a ``firebase auth:export`` file; passwords hashed with Firebase's modified scrypt.
- ``data.json``: a node-firestore-import-export file (``__collections__``, ``__datatype__``).

Deterministic (seeded), so regenerating gives the same files. The passwords are in README.md.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

HERE = Path(__file__).resolve().parent
ROUNDS, MEM_COST = 8, 14
SEED = 20240501


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def firebase_scrypt(password: str, salt: bytes, signer_key: bytes, salt_separator: bytes) -> bytes:
    """Firebase's modified scrypt: AES-256-CTR (zero IV) of the signer key, keyed by scrypt of the password."""
    n = 1 << MEM_COST
    key = hashlib.scrypt(
        password.encode(),
        salt=salt + salt_separator,
        n=n,
        r=ROUNDS,
        p=1,
        maxmem=128 * ROUNDS * (n + 3) + (1 << 20),
        dklen=64,
    )
    encryptor = Cipher(algorithms.AES(key[:32]), modes.CTR(bytes(16))).encryptor()
    return encryptor.update(signer_key) + encryptor.finalize()


def ts(seconds: int) -> dict:
    return {"__datatype__": "timestamp", "value": {"_seconds": seconds, "_nanoseconds": 0}}


# (uid, e-mail, name, password or None for a Google-only account)
ACCOUNTS = [
    ("Xk2p9QmV7sLrT4aN1cBd", "maria@example.com", "Maria Gomez", "correct-horse-1"),
    ("Pq8Zr3Lm5Nw2Ks7Ht6Yj", "james@example.com", "James Okafor", "battery-staple-2"),
    ("Hj4Ld9Sx2Vb6Nm1Qw8Er", "li.wei@example.com", "Li Wei", "reach-impact-3"),
    ("Gg7Tt1Yy5Uu3Ii9Oo2Pp", "sam@example.com", "Sam Carter", None),
]


def auth_export(rng: random.Random, signer_key: bytes, separator: bytes) -> dict:
    users = []
    for i, (uid, email, name, password) in enumerate(ACCOUNTS):
        user = {
            "localId": uid,
            "email": email,
            "emailVerified": True,
            "displayName": name,
            "createdAt": str(1_690_000_000_000 + i * 86_400_000),
            "lastSignedInAt": "1714000000000",
            "disabled": False,
        }
        if password:
            salt = rng.randbytes(16)
            user |= {
                "passwordHash": b64(firebase_scrypt(password, salt, signer_key, separator)),
                "salt": b64(salt),
                "providerUserInfo": [{"providerId": "password", "rawId": email, "email": email}],
            }
        else:
            user["providerUserInfo"] = [{"providerId": "google.com", "rawId": "10987654321", "email": email}]
        users.append(user)
    return {"users": users}


def firestore_export() -> dict:
    maria, james, li, sam = (a[0] for a in ACCOUNTS)
    users = {
        maria: {
            "email": "maria@example.com",
            "fullName": "Maria Gomez",
            "companyName": "Gomez Solar",
            "role": "admin",
            "credits": 250,
            "industry": "Energy",
            "preferredLanguage": "es",
            "createdAt": ts(1_690_000_000),
            "onboardingStep": 4,
            "__collections__": {"notifications": {"n1": {"text": "Welcome!", "read": True}}},
        },
        james: {
            "email": "james@example.com",
            "displayName": "James Okafor",
            "company": "Okafor Realty",
            "aiCredits": 40,
            "photoURL": "https://example.com/james.png",
            "__collections__": {},
        },
        # An older profile keyed by an automatic id: joined to its Auth user by e-mail.
        "legacyProfile01": {"email": "Li.Wei@example.com", "fullName": "Li Wei", "credits": 5, "__collections__": {}},
        sam: {"email": "sam@example.com", "fullName": "Sam Carter", "__collections__": {}},
    }
    contacts = {
        "ct1": {
            "userId": maria,
            "firstName": "Ana",
            "lastName": "Silva",
            "phone": "(415) 555-0134",
            "email": "ana@example.org",
            "company": "Sunrise Homes",
            "tags": ["solar", "hot"],
            "status": "interested",
            "createdAt": ts(1_700_000_000),
            "location": {"__datatype__": "geopoint", "value": {"_latitude": 37.77, "_longitude": -122.42}},
        },
        "ct2": {
            "userId": maria,
            "fullName": "Ben Wright",
            "phoneNumber": "+44 20 7946 0958",
            "status": "New",
            "createdAt": ts(1_700_000_100),
        },
        "ct3": {
            "userEmail": "james@example.com",
            "firstName": "Chloe",
            "lastName": "Martin",
            "phone": "555-CALL-NOW",
            "notes": "Number as written on her card",
            "createdAt": ts(1_700_000_200),
        },
        "ct4": {
            "userEmail": "james@example.com",
            "firstName": "Dev",
            "phone": "+1 646 555 0199",
            "jobTitle": "Broker",
            "createdAt": ts(1_700_000_300),
        },
        "ct5": {"userId": li, "firstName": "Eva", "phone": "+1 212 555 0147", "createdAt": ts(1_700_000_400)},
    }
    for doc in contacts.values():
        doc["__collections__"] = {}
    campaigns = {
        "cp1": {
            "userId": maria,
            "name": "Summer solar push",
            "status": "active",
            "type": "outbound",
            "script": "Hi {{firstName}}, this is Maria from Gomez Solar...",
            "language": "en",
            "translationEnabled": True,
            "responseLanguage": "es",
            "contactIds": ["ct1", "ct2"],
            "startDate": ts(1_717_200_000),
            "createdAt": ts(1_717_000_000),
            "__collections__": {},
        },
        "cp2": {
            "userEmail": "james@example.com",
            "name": "Open house follow-up",
            "status": "draft",
            "contactIds": ["ct3", "ct4"],
            "createdAt": ts(1_717_100_000),
            "__collections__": {},
        },
    }
    calls = {
        "cl1": {
            "userId": maria,
            "contactId": "ct1",
            "campaignId": "cp1",
            "twilioSid": "CA0001",
            "status": "completed",
            "direction": "outbound-api",
            "duration": 184,
            "transcription": "Hello, this is Maria...",
            "sentiment": "positive",
            "followUpStatus": "send quote",
            "createdAt": ts(1_717_300_000),
            "__collections__": {},
        },
        "cl2": {
            "userId": maria,
            "contactId": {"__datatype__": "documentReference", "value": "contacts/ct2"},
            "campaignId": "cp1",
            "twilioSid": "CA0002",
            "status": "no-answer",
            "duration": 0,
            "sentiment": {"label": "neutral", "score": 0.1},
            "createdAt": ts(1_717_300_600),
            "__collections__": {},
        },
        "cl3": {
            "userEmail": "james@example.com",
            "contactId": "ct3",
            "twilioSid": "CA0003",
            "status": "busy",
            "recordingUrl": "https://api.twilio.com/recordings/RE3",
            "createdAt": ts(1_717_400_000),
            "__collections__": {},
        },
    }
    channels = {
        "team": {
            "name": "Team",
            "createdBy": maria,
            "members": [maria, james],
            "createdAt": ts(1_716_000_000),
            "__collections__": {
                "messages": {
                    "m1": {"text": "Welcome to the team channel!", "senderId": maria, "createdAt": ts(1_716_000_100)},
                    "m2": {"text": "Thanks Maria", "senderId": james, "createdAt": ts(1_716_000_200)},
                }
            },
        },
    }
    messages = {
        "dm1": {
            "senderId": james,
            "receiverId": maria,
            "text": "Can you share the script?",
            "timestamp": ts(1_716_100_000),
            "read": False,
            "__collections__": {},
        }
    }
    settings = {"pricing": {"creditPrice": 0.05, "currency": "USD", "__collections__": {}}}
    return {
        "__collections__": {
            "users": users,
            "contacts": contacts,
            "campaigns": campaigns,
            "calls": calls,
            "channels": channels,
            "messages": messages,
            "appSettings": settings,
        }
    }


def main() -> None:
    rng = random.Random(SEED)
    signer_key, separator = rng.randbytes(64), rng.randbytes(1)
    hash_config = {
        "algorithm": "SCRYPT",
        "base64_signer_key": b64(signer_key),
        "base64_salt_separator": b64(separator),
        "rounds": ROUNDS,
        "mem_cost": MEM_COST,
    }
    (HERE / "hash.json").write_text(json.dumps(hash_config, indent=2) + "\n")
    (HERE / "users.json").write_text(json.dumps(auth_export(rng, signer_key, separator), indent=2) + "\n")
    (HERE / "data.json").write_text(json.dumps(firestore_export(), indent=2) + "\n")


if __name__ == "__main__":
    main()
