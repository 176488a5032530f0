"""The mapping engine and the per-collection specs, without a database."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from etl.snapshot import AuthUser, Document
from etl.transform import (
    CALLS,
    CAMPAIGNS,
    CHANNEL_MESSAGES,
    CONTACTS,
    GENERIC,
    MESSAGES,
    USERS,
    Context,
    Rejected,
    Row,
    imported_id,
)
from etl.transform.convert import phone_e164, timestamp
from tests.etl.helpers import doc, typed_doc

READ_TIME = dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)


@pytest.fixture
def ctx() -> Context:
    return Context(default_region="US", read_time=READ_TIME)


def row(spec, document: Document, ctx: Context, auth: AuthUser | None = None) -> dict:
    outcome = spec.transform(document, 0, ctx, auth)
    assert isinstance(outcome, Row), outcome
    return dict(zip(spec.columns, outcome.values, strict=True))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-02T03:04:05Z", dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)),
        ("2024-01-02T05:04:05.5+02:00", dt.datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=dt.UTC)),
        (1_704_164_645_123, dt.datetime(2024, 1, 2, 3, 4, 5, 123000, tzinfo=dt.UTC)),  # epoch ms
        (1_704_164_645, dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)),  # epoch seconds
        ({"_seconds": 1_704_164_645, "_nanoseconds": 7000}, dt.datetime(2024, 1, 2, 3, 4, 5, 7, tzinfo=dt.UTC)),
    ],
)
def test_every_time_format_becomes_an_aware_datetime(value, expected, ctx: Context) -> None:
    assert timestamp(value, ctx) == expected


def test_precision_below_the_microsecond_is_counted(ctx: Context) -> None:
    document = typed_doc(
        "contacts/c1",
        {
            "createdAt": {"timestampValue": "2024-01-02T03:04:05.123456789Z"},
            "updatedAt": {"stringValue": "2024-01-02T03:04:05.123456000Z"},  # only zeros lost: not counted
        },
    )
    outcome = CONTACTS.transform(document, 0, ctx)
    assert isinstance(outcome, Row)
    assert outcome.truncated == 1
    values = dict(zip(CONTACTS.columns, outcome.values, strict=True))
    assert values["created_at"] == dt.datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=dt.UTC)


def test_phone_numbers_become_e164_or_stay_raw_in_extra(ctx: Context) -> None:
    assert phone_e164("(415) 555-0100", ctx) == "+14155550100"
    assert phone_e164("+44 20 7946 0958", ctx) == "+442079460958"
    # Digits of another script are read as digits by the parser, never stored as they are (the CHECK refuses them).
    assert phone_e164("+١٤١٥٥٥٥٠١٠٠", ctx) == "+14155550100"
    values = row(CONTACTS, doc("contacts/c1", userId="u1", phoneNumber="call me maybe"), ctx)
    assert values["phone"] is None
    assert values["extra"] == {"phoneRaw": {"stringValue": "call me maybe"}}


def test_historical_field_names_map_to_one_column(ctx: Context) -> None:
    old = row(
        USERS,
        doc("users/u1", email="a@x.io", displayName="Ada", company="Engines", aiCredits=3, photoURL="http://p"),
        ctx,
    )
    new = row(
        USERS,
        doc("users/u1", email="a@x.io", fullName="Ada", companyName="Engines", credits=3, profileImage="http://p"),
        ctx,
    )
    for column in ("full_name", "company_name", "credits", "profile_picture"):
        assert old[column] == new[column]
    assert old["extra"] == new["extra"] == {}


def test_unknown_fields_and_unused_aliases_stay_typed_in_extra(ctx: Context) -> None:
    values = row(
        CALLS,
        typed_doc(
            "calls/x1",
            {
                "transcription": {"stringValue": "new"},
                "transcript": {"stringValue": "old"},  # the alias not used keeps its value
                "huge": {"integerValue": str(2**63 - 1)},
                "ratio": {"doubleValue": "NaN"},
                "blob": {"bytesValue": "AAE="},
                "where": {"geoPointValue": {"latitude": 1.5, "longitude": -2.25}},
                "nested": {"mapValue": {"fields": {"list": {"arrayValue": {"values": [{"integerValue": "1"}]}}}}},
            },
        ),
        ctx,
    )
    assert values["transcript"] == "new"
    assert values["extra"] == {
        "transcript": {"stringValue": "old"},
        "huge": {"integerValue": "9223372036854775807"},
        "ratio": {"doubleValue": "NaN"},
        "blob": {"bytesValue": "AAE="},
        "where": {"geoPointValue": {"latitude": 1.5, "longitude": -2.25}},
        "nested": {"mapValue": {"fields": {"list": {"arrayValue": {"values": [{"integerValue": "1"}]}}}}},
    }


def test_sentiment_may_be_a_label_or_a_map(ctx: Context) -> None:
    assert row(CALLS, doc("calls/a", sentiment="positive"), ctx)["sentiment"] == "positive"
    assert row(CALLS, doc("calls/b", sentiment={"score": 0.5}), ctx)["sentiment"] == {"score": 0.5}


def test_enumerations_forgive_spelling_and_keep_the_unknown_raw(ctx: Context) -> None:
    values = row(CALLS, doc("calls/a", status="In Progress", direction="outgoing"), ctx)
    assert (values["status"], values["direction"]) == ("in-progress", "outbound")
    values = row(CALLS, doc("calls/b", status="exploded"), ctx)
    assert values["status"] == "queued"
    assert values["extra"] == {"statusRaw": {"stringValue": "exploded"}}


def test_links_are_paths_or_emails_with_their_raw_value(ctx: Context) -> None:
    by_id = row(CONTACTS, doc("contacts/c1", userId="u1"), ctx)
    assert (by_id["user_id__path"], by_id["user_id__raw"]) == ("users/u1", {"userId": {"stringValue": "u1"}})
    by_email = row(CONTACTS, doc("contacts/c2", userEmail="Ann@X.io"), ctx)
    assert (by_email["user_id__path"], by_email["user_id__email"]) == (None, "ann@x.io")
    by_reference = row(CALLS, typed_doc("calls/x", {"contactId": {"referenceValue": "contacts/c9"}}), ctx)
    assert by_reference["contact_id__path"] == "contacts/c9"
    in_channel = row(CHANNEL_MESSAGES, doc("channels/c1/messages/m1", text="hi"), ctx)
    assert in_channel["room_id__path"] == "channels/c1"
    flat = row(MESSAGES, doc("messages/m1", text="hi", channelId="c1"), ctx)
    assert flat["room_id__path"] == "channels/c1"


def test_member_arrays_become_membership_rows(ctx: Context) -> None:
    outcome = CAMPAIGNS.transform(doc("campaigns/k1", name="K", contactIds=["c1", "c2"]), 0, ctx)
    assert isinstance(outcome, Row)
    assert [(m[0], m[1], m[2]) for m in outcome.members] == [
        ("campaigns/k1", 0, "contacts/c1"),
        ("campaigns/k1", 1, "contacts/c2"),
    ]


def test_contacts_split_an_old_full_name_and_keep_it(ctx: Context) -> None:
    values = row(CONTACTS, doc("contacts/c1", fullName="Grace Brewster Hopper"), ctx)
    assert (values["first_name"], values["last_name"]) == ("Grace", "Brewster Hopper")
    assert values["extra"] == {"fullName": {"stringValue": "Grace Brewster Hopper"}}


def test_users_take_auth_identity_and_legacy_hash(ctx: Context) -> None:
    auth = AuthUser(
        uid="u1",
        email="Ada@X.io",
        display_name="From Auth",
        password_hash="aGFzaA==",
        salt="c2FsdA==",
        email_verified=True,
        providers=["password"],
        created_at=1_600_000_000_000,
    )
    values = row(USERS, doc("users/u1", email="old@x.io", fullName="From Profile"), ctx, auth)
    assert values["email"] == "ada@x.io"  # Auth is the login identity
    assert values["full_name"] == "From Profile"  # the profile is what the app showed
    assert (values["legacy_password_hash"], values["legacy_password_salt"]) == ("aGFzaA==", "c2FsdA==")
    assert values["password_reset_required"] is False
    assert values["email_verified"] is True
    assert values["created_at"] == dt.datetime(2020, 9, 13, 12, 26, 40, tzinfo=dt.UTC)
    without_hash = row(USERS, doc("users/u2", email="b@x.io"), ctx, AuthUser(uid="u2", email="b@x.io"))
    assert without_hash["password_reset_required"] is True


def test_a_user_without_any_email_is_rejected(ctx: Context) -> None:
    outcome = USERS.transform(doc("users/u9", fullName="Nobody"), 0, ctx)
    assert isinstance(outcome, Rejected)
    assert "email" in outcome.reason


def test_missing_times_fall_back_to_firestore_then_to_the_read_time(ctx: Context) -> None:
    with_meta = row(CONTACTS, doc("contacts/a", create_time="2023-03-03T00:00:00Z"), ctx)
    assert with_meta["created_at"] == dt.datetime(2023, 3, 3, tzinfo=dt.UTC)
    without = row(CONTACTS, doc("contacts/b"), ctx)
    # Left to the load: the row's own time if it has one, else the read time (the guess).
    assert without["created_at"] is None and without["updated_at"] is None
    assert without["times__guess"] == READ_TIME


def test_ids_are_a_function_of_the_path_alone(ctx: Context) -> None:
    first = imported_id("contacts/c1")
    assert first == imported_id("contacts/c1") != imported_id("contacts/c2")
    assert first.version == 5
    # The RFC 4122 name-based UUID: the ids of an earlier import stay the same.
    assert str(first) == str(uuid.uuid5(uuid.UUID("5b1d2c8e-6f0a-4c57-9a3e-7e1a3b5c0001"), "contacts/c1"))
    # Whatever time the document records, and whenever the extract ran.
    assert row(CONTACTS, doc("contacts/c1", createdAt=1_700_000_000_000), ctx)["id"] == first
    later = Context(read_time=READ_TIME + dt.timedelta(days=3))
    assert row(CONTACTS, doc("contacts/c1"), later)["id"] == first


def test_unknown_collections_go_to_the_generic_mapping(ctx: Context) -> None:
    assert GENERIC.matches(doc("notifications/n1"))
    assert GENERIC.matches(doc("users/u1/settings/s1"))
    assert not GENERIC.matches(doc("channels/c1/messages/m1"))
    values = row(GENERIC, doc("users/u1/settings/s1", theme="dark"), ctx)
    assert (values["collection"], values["fields"]) == ("users/u1/settings", {"theme": {"stringValue": "dark"}})


def test_a_corrupt_typed_value_is_rejected_not_raised(ctx: Context) -> None:
    outcome = CONTACTS.transform(typed_doc("contacts/c1", {"firstName": {"madeUpValue": 1}}), 0, ctx)
    assert isinstance(outcome, Rejected)
