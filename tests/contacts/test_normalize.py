"""Field rules and CSV helpers, without a database."""

import io

import pytest

from service.contacts.csv_import import CsvError, detect_encoding, map_headers, read_batches, sniff_delimiter
from service.contacts.normalize import InvalidField, normalize_phone, to_columns
from service.contacts.schemas import ContactIn, Rejection


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("(415) 555-0100", "US", ("+14155550100", "America/Los_Angeles")),
        ("+1 415 000 0001", "US", ("+14150000001", "America/Los_Angeles")),  # possible, if not assigned
        ("020 7946 0958", "GB", ("+442079460958", "Europe/London")),
        ("+44 7911 123456", "US", ("+447911123456", None)),  # a mobile spans several zones
        ("+1 800 555 0100", "US", ("+18005550100", None)),
        ("  ", "US", (None, None)),
    ],
)
def test_phones_become_e164_with_their_zone(raw, region, expected):
    assert normalize_phone(raw, region) == expected


@pytest.mark.parametrize("raw", ["555-0100", "abc", "+999 1234", "1" * 30])
def test_incomplete_or_foreign_numbers_are_refused(raw):
    with pytest.raises(InvalidField) as caught:
        normalize_phone(raw, "US")
    assert caught.value.field == "phone"


def test_replace_fills_defaults_and_patch_keeps_only_what_was_sent():
    data = ContactIn(full_name="Jean-Luc Picard", company_name="Starfleet", tags=["a", " a ", "b", ""])
    assert to_columns(data, "US", replace=True) == {
        "first_name": "Jean-Luc",
        "last_name": "Picard",
        "email": None,
        "phone": None,
        "company": "Starfleet",
        "job_title": None,
        "industry": None,
        "notes": None,
        "tags": ["a", "b"],
        "source": None,
        "status": "new",
        "timezone": None,
    }
    assert to_columns(ContactIn(notes=None, status=None), "US", replace=False) == {"notes": None, "status": "new"}


def test_first_and_last_name_win_over_full_name():
    columns = to_columns(ContactIn(first_name="Ada", full_name="Someone Else"), "US", replace=True)
    assert (columns["first_name"], columns["last_name"]) == ("Ada", None)


@pytest.mark.parametrize(
    ("header", "delimiter"),
    [("a,b,c", ","), ("a;b;c", ";"), ("a\tb\tc", "\t"), ('"x, y";b;c', ";"), ("single", ",")],
)
def test_the_delimiter_is_sniffed_from_the_header(header, delimiter):
    assert sniff_delimiter(header + "\n1,2;3\n") == delimiter


def test_headers_map_to_fields_whatever_their_spelling():
    columns = map_headers(["First Name", "SURNAME", "E-Mail", "Phone Number", "Mobile", "Company Name", "x"])
    assert columns == {"firstName": [0], "lastName": [1], "email": [2], "phone": [3, 4], "company": [5]}
    with pytest.raises(CsvError):
        map_headers(["Company", "Notes"])


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (b"\xef\xbb\xbfa", "utf-8-sig"),
        ("é".encode(), "utf-8-sig"),
        ("é".encode("cp1252"), "cp1252"),
        ("é".encode("utf-16"), "utf-16"),
    ],
)
def test_encoding_detection(data, encoding):
    assert detect_encoding(io.BytesIO(data)) == encoding


def test_batches_carry_row_indexes_and_reasons():
    data = b"Phone,Mobile\n,4155550100\n\n12,\n"
    batches = list(read_batches(io.BytesIO(data), "US", batch_rows=1))
    rows = [item for batch in batches for item in batch]
    assert rows[0][0] == 0 and rows[0][1]["phone"] == "+14155550100"  # the second phone column fills in
    assert rows[1] == Rejection(2, "phone: '12' is not a complete phone number")
