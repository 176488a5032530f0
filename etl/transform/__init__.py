"""Transform: snapshot documents -> rows, one declarative spec per collection (see ``engine``).

``MAPPINGS`` is the load order: a table comes after every table it links to, so links resolve.
"""

from __future__ import annotations

from etl.transform.calls import CALLS
from etl.transform.campaigns import CAMPAIGNS
from etl.transform.chat import CHANNEL_MESSAGES, CHANNELS, MESSAGES
from etl.transform.contacts import CONTACTS
from etl.transform.convert import Context
from etl.transform.engine import Field, Members, Ref, Rejected, Row, Spec, imported_id
from etl.transform.generic import Generic, unclaimed
from etl.transform.users import USERS

SPECS: tuple[Spec, ...] = (USERS, CONTACTS, CAMPAIGNS, CALLS, CHANNELS, CHANNEL_MESSAGES, MESSAGES)
GENERIC = unclaimed(SPECS)
MAPPINGS: tuple[Spec | Generic, ...] = (*SPECS, GENERIC)

__all__ = [
    "CALLS",
    "CAMPAIGNS",
    "CHANNELS",
    "CHANNEL_MESSAGES",
    "CONTACTS",
    "GENERIC",
    "MAPPINGS",
    "MESSAGES",
    "SPECS",
    "USERS",
    "Context",
    "Field",
    "Generic",
    "Members",
    "Ref",
    "Rejected",
    "Row",
    "Spec",
    "imported_id",
]
