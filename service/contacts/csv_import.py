"""CSV files as real people export them, read into validated contact rows in batches.

Spreadsheets and CRMs differ in encoding (UTF-8 with or without BOM, Excel's UTF-16 or Windows-1252), in
delimiter (comma, semicolon in European locales, tab) and in header names ("Phone Number", "E-mail",
"Company Name" ...). The reader works on the spooled upload file, one batch at a time, so a 50 MB file never
sits in memory as a whole. It is synchronous: the route runs it in a worker thread.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Generator, Iterator
from typing import IO, Any

from service.contacts.normalize import Validated, validate_row
from service.contacts.schemas import Rejection
from service.web.decoding import NUL_MESSAGE, nul_path

BATCH_ROWS = 5000
SNIFF_BYTES = 64 * 1024
DELIMITERS = (",", ";", "\t")

# Normalised header (lower case, letters and digits only) -> ContactIn field (wire name).
HEADERS = {
    **dict.fromkeys(("firstname", "first", "givenname", "forename", "fname"), "firstName"),
    **dict.fromkeys(("lastname", "last", "surname", "familyname", "lname"), "lastName"),
    **dict.fromkeys(("name", "fullname", "contactname", "contact"), "fullName"),
    **dict.fromkeys(("email", "emailaddress", "mail", "workemail", "emailid"), "email"),
    **dict.fromkeys(
        (
            "phone",
            "phonenumber",
            "phoneno",
            "mobile",
            "mobilephone",
            "mobilenumber",
            "cell",
            "cellphone",
            "telephone",
            "tel",
            "primaryphone",
            "workphone",
            "businessphone",
            "contactnumber",
        ),
        "phone",
    ),
    **dict.fromkeys(
        (
            "company",
            "companyname",
            "organization",
            "organisation",
            "business",
            "businessname",
            "account",
            "accountname",
            "employer",
        ),
        "company",
    ),
    **dict.fromkeys(("jobtitle", "title", "position", "role", "designation"), "jobTitle"),
    **dict.fromkeys(("industry", "sector"), "industry"),
    **dict.fromkeys(("notes", "note", "comments", "comment", "description", "remarks"), "notes"),
    **dict.fromkeys(("tags", "tag", "labels", "label"), "tags"),
    **dict.fromkeys(("source", "leadsource"), "source"),
    **dict.fromkeys(("status", "leadstatus"), "status"),
    **dict.fromkeys(("timezone", "tz"), "timezone"),
}
IDENTIFYING = {"firstName", "lastName", "fullName", "email", "phone"}
PHONE_HEADERS = frozenset(key for key, field in HEADERS.items() if field == "phone")


class CsvError(ValueError):
    """The file as a whole cannot be imported; the message says why."""


def detect_encoding(file: IO[bytes]) -> str:
    """UTF-8 (BOM or not) when the whole file decodes as such; UTF-16 by its BOM; otherwise Windows-1252."""
    head = file.read(4)
    file.seek(0)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        while chunk := file.read(1024 * 1024):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
        return "utf-8-sig"
    except UnicodeDecodeError:
        return "cp1252"
    finally:
        file.seek(0)


def sniff_delimiter(sample: str) -> str:
    """The delimiter that occurs most often in the header line (quoted text aside)."""
    header = re.sub(r'"[^"]*"', "", sample.splitlines()[0] if sample else "")
    return max(DELIMITERS, key=header.count)


def csv_text(file: IO[bytes]) -> io.TextIOWrapper:
    """The file as text in its own encoding (detach it when done, so the caller's file stays open)."""
    return io.TextIOWrapper(file, encoding=detect_encoding(file), newline="")


def csv_reader(text: io.TextIOWrapper) -> Iterator[list[str]]:
    """The rows of `text`, split on the delimiter its header line uses."""
    delimiter = sniff_delimiter(text.read(SNIFF_BYTES))
    text.seek(0)
    return csv.reader(text, delimiter=delimiter)


def header_key(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.lower())


def map_headers(headers: list[str]) -> dict[str, list[int]]:
    """ContactIn field -> the columns that may hold it, best first (e.g. "Mobile" and "Phone")."""
    columns: dict[str, list[int]] = {}
    for position, header in enumerate(headers):
        field = HEADERS.get(header_key(header))
        if field:
            columns.setdefault(field, []).append(position)
    if not IDENTIFYING & columns.keys():
        raise CsvError(
            "No name, phone or e-mail column found in the header row "
            f"(got: {', '.join(h for h in headers if h) or 'nothing'})"
        )
    return columns


def record_to_contact(record: list[str], columns: dict[str, list[int]]) -> dict[str, Any]:
    contact: dict[str, Any] = {}
    for field, positions in columns.items():
        value = next((record[p].strip() for p in positions if p < len(record) and record[p].strip()), None)
        if value is None:
            continue
        if field == "tags":
            contact[field] = re.split(r"\s*[,;|]\s*", value)
        elif field == "status":
            contact[field] = re.sub(r"[\s-]+", "_", value.lower())
        else:
            contact[field] = value
    return contact


def read_batches(file: IO[bytes], region: str, batch_rows: int = BATCH_ROWS) -> Generator[list[Validated], None, None]:
    """Validated rows in batches. `index` 0 is the first row under the header; blank rows are skipped."""
    text = csv_text(file)
    try:
        reader = csv_reader(text)
        columns = map_headers(next(reader, []))
        batch: list[Validated] = []
        for index, record in enumerate(reader):
            contact = record_to_contact(record, columns)
            if (field := nul_path(contact)) is not None:  # csv reads NUL as text; PostgreSQL cannot store it
                batch.append(Rejection(index, f"{field}: {NUL_MESSAGE}"))
            elif contact:
                batch.append(validate_row(index, contact, region))
            if len(batch) >= batch_rows:
                yield batch
                batch = []
        yield batch
    except (csv.Error, UnicodeError) as exc:
        raise CsvError(f"Not a readable CSV file: {exc}") from None
    finally:
        text.detach()
