"""Contact DTOs: the JSON the SPA sends and reads (camelCase)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, UnsetType

from service.db.vocabulary import CONTACT_STATUSES
from service.web.ids import parse_id
from service.web.openapi import UUID, choice, query, text
from service.web.pagination import Keyset, decode_cursor, parse_choice, parse_limit
from service.web.schemas import CamelStruct

ContactStatus = Literal["new", "contacted", "interested", "not_interested", "converted", "do_not_call"]
MAX_BULK = 10_000

Text = Annotated[str, msgspec.Meta(max_length=2000)]
Name = Annotated[str, msgspec.Meta(max_length=200)]
LongText = Annotated[str, msgspec.Meta(max_length=20_000)]
Tag = Annotated[str, msgspec.Meta(max_length=100)]


class ContactIn(CamelStruct, kw_only=True, forbid_unknown_fields=True):
    """A contact as written by POST, PUT and PATCH (PUT and PATCH change only the fields sent).

    The SPA's names (`shared/schema.ts`) are `fullName`, `companyName` and `phoneNumber`; `firstName`/`lastName`,
    `company` and `phone` are accepted too. `fullName` is split into first and last name when those are absent.
    An unknown field is a 400 naming it, so nothing is dropped silently.
    """

    first_name: Name | UnsetType | None = UNSET
    last_name: Name | UnsetType | None = UNSET
    full_name: Name | UnsetType | None = UNSET
    email: Annotated[str, msgspec.Meta(max_length=320)] | UnsetType | None = UNSET
    phone: Annotated[str, msgspec.Meta(max_length=40)] | UnsetType | None = UNSET
    phone_number: Annotated[str, msgspec.Meta(max_length=40)] | UnsetType | None = UNSET
    company: Text | UnsetType | None = UNSET
    company_name: Text | UnsetType | None = UNSET
    job_title: Text | UnsetType | None = UNSET
    industry: Text | UnsetType | None = UNSET
    notes: LongText | UnsetType | None = UNSET
    tags: Annotated[list[Tag], msgspec.Meta(max_length=100)] | UnsetType | None = UNSET
    source: Text | UnsetType | None = UNSET
    status: ContactStatus | UnsetType | None = UNSET
    timezone: Annotated[str, msgspec.Meta(max_length=64)] | UnsetType | None = UNSET


class ContactOut(CamelStruct):
    """Field order matches `repository.COLUMNS`, so a row builds a struct positionally. Attributes are column
    names; the wire names are the SPA's (`phoneNumber`, `companyName`)."""

    id: uuid.UUID
    user_id: uuid.UUID
    first_name: str | None
    last_name: str | None
    full_name: str | None
    email: str | None
    phone: str | None = msgspec.field(name="phoneNumber")
    company: str | None = msgspec.field(name="companyName")
    job_title: str | None
    industry: str | None
    notes: str | None
    tags: list[str]
    source: str | None
    status: str
    timezone: str | None
    created_at: datetime
    updated_at: datetime


# Raw items: each is validated on its own, so `?partial=true` can keep the good ones.
BulkItems = Annotated[list[msgspec.Raw], msgspec.Meta(max_length=MAX_BULK)]


class BulkIn(CamelStruct):
    contacts: BulkItems


# `{"contacts": [...]}`, or the bare array the SPA's ContactUpload posts.
BulkBody = BulkIn | BulkItems


class Rejection(CamelStruct):
    index: int
    reason: str


class ImportReport(CamelStruct):
    """What a bulk write or a CSV import did. `rejected` lists at most MAX_REPORTED rows; `rejectedCount` is all."""

    inserted: int
    duplicates: int
    rejected: list[Rejection]
    rejected_count: int


@dataclass(frozen=True, slots=True)
class ContactQuery:
    """A contact list's query string: filters `status`, `tag`, `campaignId`, `q`; `limit` and `cursor`."""

    limit: int
    status: str | None = None
    tag: str | None = None
    campaign_id: uuid.UUID | None = None
    search: str | None = None
    after: Keyset | None = None

    @classmethod
    def parse(
        cls, query: Mapping[str, str], *, search: str | None = None, campaign_id: uuid.UUID | None = None
    ) -> ContactQuery:
        if campaign_id is None and (raw_campaign := query.get("campaignId")) is not None:
            campaign_id = parse_id(raw_campaign, "Campaign")
        cursor = query.get("cursor")
        return cls(
            limit=parse_limit(query.get("limit")),
            status=parse_choice(query.get("status"), "status", CONTACT_STATUSES),
            tag=query.get("tag"),
            campaign_id=campaign_id,
            search=search,
            after=decode_cursor(cursor) if cursor else None,
        )


# The filters ContactQuery.parse reads, for the OpenAPI document (`q` is declared by each list).
CONTACT_FILTERS = (
    query("status", choice(CONTACT_STATUSES), "only contacts with this status"),
    query("tag", text(), "only contacts whose tags include it"),
    query("campaignId", UUID, "only members of this campaign of the caller's (someone else's: 404)"),
)


encode = msgspec.json.Encoder().encode


def encode_contacts(rows: Sequence[Any]) -> bytes:
    """Rows in `repository.COLUMNS` order, encoded in one call (the hot list path builds no other object)."""
    return encode([ContactOut(*row) for row in rows])
