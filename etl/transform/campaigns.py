"""``campaigns``, and their ``contactIds`` as campaign_contacts rows."""

from __future__ import annotations

from etl.transform.common import CREATED_AT, DELETED_AT, OWNER, UPDATED_AT
from etl.transform.convert import boolean, choice, text, timestamp
from etl.transform.engine import Field, Members, Spec
from service.db.vocabulary import CAMPAIGN_STATUSES

CAMPAIGNS = Spec(
    name="campaigns",
    pattern="campaigns",
    table="campaigns",
    refs=(OWNER,),
    members=Members(
        table="campaign_contacts",
        owner_column="campaign_id",
        member_column="contact_id",
        names=("contactIds", "contacts"),
        target="contacts",
        collection="contacts",
        values={"added_at": "o.created_at", "position": "ms.position"},
    ),
    fields=(
        Field("name", ("name", "title", "campaignName"), text, default=""),
        Field("description", ("description",), text),
        Field("industry", ("industry",), text),
        Field("type", ("type", "campaignType"), text),
        Field("script", ("script", "callScript"), text),
        Field("language", ("language",), text),
        Field("translation_enabled", ("translationEnabled", "enableTranslation"), boolean, default=False),
        Field("response_language", ("responseLanguage", "translationLanguage", "targetLanguage"), text),
        Field("start_date", ("startDate",), timestamp),
        Field("end_date", ("endDate",), timestamp),
        Field(
            "status",
            ("status",),
            choice(CAMPAIGN_STATUSES, {"running": "active", "stopped": "paused", "finished": "completed"}),
            default="draft",
        ),
        CREATED_AT,
        UPDATED_AT,
        DELETED_AT,
    ),
)
