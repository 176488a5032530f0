"""Auth users from ``firebase auth:export`` files (JSON or CSV), streamed.

JSON: ``{"users": [{"localId", "email", "emailVerified", "passwordHash", "salt", "displayName",
"photoUrl", "lastSignedInAt", "createdAt", "phoneNumber", "disabled", "customAttributes",
"providerUserInfo": [{"providerId", "rawId", ...}]}]}`` with standard base64 hashes and epoch-ms
strings. It is parsed incrementally (ijson), one user at a time.

CSV: no header; columns as firebase-tools writes them (0-based): 0 UID, 1 Email, 2 Email Verified,
3 Password Hash, 4 Password Salt, 5 Name, 6 Photo URL, 7-10 Google (ID, Email, Display Name, Photo
URL), 11-14 Facebook, 15-18 Twitter, 19-22 GitHub, 23 User Creation Time, 24 Last Sign-In Time,
25 Phone Number (26 columns); newer versions add 26 Disabled, 27 Custom Claims (JSON), then four columns each for
Apple, Microsoft, Game Center, Play Games, LinkedIn and Yahoo (52 columns), and every line ends
with a comma. The quoting is unreliable (older versions did not quote names; custom claims keep
``\\"`` unescaped), so lines are split by a tolerant tokenizer:

- a quoted field ends only at a quote followed by a comma or the end of the line; ``""`` is a quote;
  any other quote inside it is kept as a literal character;
- a quote inside an unquoted field is a literal character;
- a quoted field still open at the end of a line continues on the next line;
- a line with more columns than the file's width had commas in an unquoted display name (the only
  free-text column older versions did not quote): the extra columns are joined back into the name,
  and a warning names the line;
- a line with fewer columns than any known width is an error.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, TextIO

import ijson

from etl.snapshot import AuthUser
from etl.sources.auth_common import AuthSourceError, Warn, claims, epoch_ms, log_warning, providers, standard_b64

CSV_WIDTHS = (52, 26)
_NAME = 5
_PROVIDER_COLUMNS = {
    7: "google.com",
    11: "facebook.com",
    15: "twitter.com",
    19: "github.com",
    28: "apple.com",
    32: "microsoft.com",
    36: "gc.apple.com",
    40: "playgames.google.com",
    44: "linkedin.com",
    48: "yahoo.com",
}
_MAX_RECORD_LINES = 100


def read_auth_export(path: Path, on_warning: Warn = log_warning) -> Iterator[AuthUser]:
    """Users from an auth:export file; CSV when the name ends in .csv, JSON otherwise."""
    if Path(path).suffix.lower() == ".csv":
        with open(path, encoding="utf-8", newline="") as f:
            yield from read_auth_csv(f, str(path), on_warning)
    else:
        with open(path, "rb") as f:
            yield from read_auth_json(f, str(path))


def read_auth_json(stream: BinaryIO, name: str = "auth export") -> Iterator[AuthUser]:
    try:
        for index, raw in enumerate(ijson.items(stream, "users.item")):
            if not isinstance(raw, dict) or not raw.get("localId"):
                raise AuthSourceError(f"{name}: user #{index + 1} has no localId")
            yield _user_from_json(raw)
    except ijson.JSONError as exc:
        raise AuthSourceError(f"{name}: not valid JSON: {exc}") from None


def _user_from_json(raw: dict[str, Any]) -> AuthUser:
    uid = str(raw["localId"])
    password_hash = standard_b64(raw.get("passwordHash"), f"user {uid} passwordHash")
    phone = raw.get("phoneNumber") or None
    listed = [p.get("providerId") for p in raw.get("providerUserInfo") or [] if p.get("providerId")]
    return AuthUser(
        uid=uid,
        email=raw.get("email") or None,
        email_verified=bool(raw.get("emailVerified", False)),
        disabled=bool(raw.get("disabled", False)),
        display_name=raw.get("displayName") or None,
        phone_number=phone,
        photo_url=raw.get("photoUrl") or None,
        providers=providers(listed, has_hash=password_hash is not None, phone=phone),
        created_at=epoch_ms(raw.get("createdAt"), f"user {uid} createdAt"),
        last_signed_in_at=epoch_ms(raw.get("lastSignedInAt"), f"user {uid} lastSignedInAt"),
        password_hash=password_hash,
        salt=standard_b64(raw.get("salt"), f"user {uid} salt"),
        custom_claims=claims(raw.get("customAttributes"), f"user {uid}"),
    )


def read_auth_csv(stream: TextIO, name: str = "auth export", on_warning: Warn = log_warning) -> Iterator[AuthUser]:
    width: int | None = None
    for number, fields in _csv_records(stream, name):
        fitted = _fit(fields)
        if fitted is not None:
            width = width or len(fitted)
        else:
            fitted = _rejoin_name(fields, width, f"{name}:{number}")
            on_warning(
                f"{name}:{number}: unquoted commas in a name; joined {len(fields) - len(fitted)} extra column(s)"
            )
        yield _user_from_csv(fitted, f"{name}:{number}")


def _csv_records(stream: TextIO, name: str) -> Iterator[tuple[int, list[str]]]:
    """(first line number, fields) per record; a quoted field may span lines."""
    lines = iter(stream)
    for number, line in enumerate(lines, 1):
        record = line.rstrip("\r\n")
        for _ in range(_MAX_RECORD_LINES):
            fields = _split(record)
            if fields is not None:
                break
            extra = next(lines, None)
            if extra is None:
                raise AuthSourceError(f"{name}:{number}: a quoted field is never closed")
            record += "\n" + extra.rstrip("\r\n")
        else:
            raise AuthSourceError(f"{name}:{number}: a quoted field runs past {_MAX_RECORD_LINES} lines")
        if record.strip():
            yield number, fields


def _split(record: str) -> list[str] | None:
    """Tolerant CSV split of one record; None while a quoted field is still open."""
    fields: list[str] = []
    i, n = 0, len(record)
    while True:
        if i < n and record[i] == '"':
            value: list[str] = []
            i += 1
            while True:
                if i >= n:
                    return None
                ch = record[i]
                if ch == '"' and record.startswith('""', i):
                    value.append('"')
                    i += 2
                elif ch == '"' and (i + 1 == n or record[i + 1] == ","):
                    i += 1
                    break
                else:
                    value.append(ch)
                    i += 1
            fields.append("".join(value))
        else:
            end = record.find(",", i)
            end = n if end == -1 else end
            fields.append(record[i:end])
            i = end
        if i >= n:
            return fields
        i += 1  # the comma
        if i == n:
            fields.append("")
            return fields


def _fit(fields: list[str]) -> list[str] | None:
    """The fields at a known width (the trailing comma firebase-tools writes gives one empty column)."""
    for width in CSV_WIDTHS:
        if len(fields) == width:
            return fields
        if len(fields) == width + 1 and fields[-1] == "":
            return fields[:-1]
    return None


def _rejoin_name(fields: list[str], width: int | None, where: str) -> list[str]:
    if fields and fields[-1] == "":
        fields = fields[:-1]
    target = width or max((w for w in CSV_WIDTHS if w <= len(fields)), default=None)
    if target is None or len(fields) < target:
        raise AuthSourceError(f"{where}: {len(fields)} columns; an auth:export CSV line has {min(CSV_WIDTHS)} or more")
    extra = len(fields) - target
    return [*fields[:_NAME], ",".join(fields[_NAME : _NAME + extra + 1]), *fields[_NAME + extra + 1 :]]


def _flag(value: str, where: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("", "false", "0"):
        return False
    if lowered in ("true", "1"):
        return True
    raise AuthSourceError(f"{where}: not a boolean: {value!r}")


def _user_from_csv(fields: list[str], where: str) -> AuthUser:
    uid = fields[0]
    if not uid:
        raise AuthSourceError(f"{where}: empty UID")
    password_hash = standard_b64(fields[3], f"{where} password hash")
    phone = fields[25] or None
    listed = [provider for column, provider in _PROVIDER_COLUMNS.items() if column < len(fields) and fields[column]]
    return AuthUser(
        uid=uid,
        email=fields[1] or None,
        email_verified=_flag(fields[2], f"{where} email verified"),
        disabled=_flag(fields[26], f"{where} disabled") if len(fields) > 26 else False,
        display_name=fields[_NAME] or None,
        phone_number=phone,
        photo_url=fields[6] or None,
        providers=providers(listed, has_hash=password_hash is not None, phone=phone),
        created_at=epoch_ms(fields[23], f"{where} creation time"),
        last_signed_in_at=epoch_ms(fields[24], f"{where} last sign-in time"),
        password_hash=password_hash,
        salt=standard_b64(fields[4], f"{where} salt"),
        custom_claims=claims(fields[27], where) if len(fields) > 27 else None,
    )
