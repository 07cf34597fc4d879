"""Input data contracts (SPEC section 3): columns, types, nullability and enumerations.

One place defines them; extract coerces to them, validation checks them, the generator writes
them, and the Arrow schemas of every raw partition come from here.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from include.scoring.core.sources import ALL_SOURCES, CRM_TABLES, EVENT_SOURCES  # noqa: F401 - re-exported

TIMESTAMP = pa.timestamp("us", tz="UTC")

WEB_EVENT_TYPES = ("page_view", "form_submit", "download")
FORM_TYPES = (
    "demo_request",
    "contact_sales",
    "webinar_registration",
    "webinar_attended",
    "content_download",
    "case_study_request",
)
EMAIL_EVENT_TYPES = ("delivered", "open", "click", "reply", "bounce", "unsubscribe")
AD_PLATFORMS = ("linkedin", "google", "meta", "other")
AD_EVENT_TYPES = ("impression", "click", "video_view", "social_engagement", "lead_form_submit")
ROLES = ("decision_maker", "champion", "influencer", "user", "researcher", "other")
ACTIVITY_TYPES = (
    "call_completed",
    "meeting_scheduled",
    "meeting_completed",
    "demo_scheduled",
    "demo_completed",
    "rfp_issued",
    "proposal_sent",
    "pricing_discussion",
    "legal_review",
    "linkedin_connection_accepted",
    "linkedin_message_response",
    "not_interested",
)
LIFECYCLES = ("prospect", "customer", "churned")
IP_KINDS = ("corporate", "isp", "vpn", "hosting", "mobile")

EVENT_TYPES: dict[str, tuple[str, ...]] = {
    "web": WEB_EVENT_TYPES,
    "email": EMAIL_EVENT_TYPES,
    "ad": AD_EVENT_TYPES,
    "crm": ACTIVITY_TYPES,
}


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    nullable: bool = False
    enum: tuple[str, ...] | None = None
    #: the column is a key: never null, used to identify the row in messages
    key: bool = False


@dataclass(frozen=True)
class Contract:
    source: str
    columns: tuple[Column, ...]
    #: the column holding the event or row id
    id_column: str
    #: the column holding the event time (None for reference tables)
    time_column: str | None

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    def arrow_schema(self, extra: tuple[tuple[str, pa.DataType], ...] = ()) -> pa.Schema:
        fields = [pa.field(c.name, c.type, nullable=True) for c in self.columns]
        fields += [pa.field(name, typ, nullable=True) for name, typ in extra]
        return pa.schema(fields)


S = pa.string()
F = pa.float64()
I = pa.int64()  # noqa: E741 - short alias kept for the tables below
B = pa.bool_()

CONTRACTS: dict[str, Contract] = {
    "web": Contract(
        "web",
        (
            Column("event_id", S, key=True),
            Column("event_time", TIMESTAMP, key=True),
            Column("anonymous_id", S),
            Column("email", S, nullable=True),
            Column("ip", S),
            Column("url", S),
            Column("event_type", S, enum=WEB_EVENT_TYPES),
            Column("form_type", S, nullable=True, enum=FORM_TYPES),
            Column("duration_seconds", F, nullable=True),
            Column("user_agent", S),
            Column("referrer", S, nullable=True),
        ),
        "event_id",
        "event_time",
    ),
    "email": Contract(
        "email",
        (
            Column("event_id", S, key=True),
            Column("event_time", TIMESTAMP, key=True),
            Column("email", S),
            Column("campaign_id", S),
            Column("event_type", S, enum=EMAIL_EVENT_TYPES),
            Column("url", S, nullable=True),
            Column("user_agent", S, nullable=True),
            Column("ip", S, nullable=True),
        ),
        "event_id",
        "event_time",
    ),
    "ad": Contract(
        "ad",
        (
            Column("event_id", S, key=True),
            Column("event_time", TIMESTAMP, key=True),
            Column("platform", S, enum=AD_PLATFORMS),
            Column("campaign_id", S),
            Column("ad_id", S, nullable=True),
            Column("event_type", S, enum=AD_EVENT_TYPES),
            Column("company_domain", S, nullable=True),
            Column("company_name", S, nullable=True),
            Column("anonymous_id", S, nullable=True),
            Column("email", S, nullable=True),
            Column("ip", S, nullable=True),
            Column("cost", F, nullable=True),
        ),
        "event_id",
        "event_time",
    ),
    "crm/accounts": Contract(
        "crm/accounts",
        (
            Column("account_id", S, key=True),
            Column("name", S),
            Column("domain", S),
            Column("alt_domains", S, nullable=True),
            Column("industry", S, nullable=True),
            Column("employee_count", I, nullable=True),
            Column("abm_tier", I, nullable=True),
            Column("owner_email", S, nullable=True),
            Column("sdr_email", S, nullable=True),
            Column("parent_account_id", S, nullable=True),
            Column("lifecycle", S, enum=LIFECYCLES),
            Column("updated_at", TIMESTAMP),
        ),
        "account_id",
        None,
    ),
    "crm/contacts": Contract(
        "crm/contacts",
        (
            Column("contact_id", S, key=True),
            Column("account_id", S, key=True),
            Column("email", S),
            Column("first_name", S, nullable=True),
            Column("last_name", S, nullable=True),
            Column("title", S, nullable=True),
            Column("role", S, enum=ROLES),
            Column("updated_at", TIMESTAMP),
        ),
        "contact_id",
        None,
    ),
    "crm/activities": Contract(
        "crm/activities",
        (
            Column("activity_id", S, key=True),
            Column("account_id", S, key=True),
            Column("contact_id", S, nullable=True),
            Column("activity_type", S, enum=ACTIVITY_TYPES),
            Column("occurred_at", TIMESTAMP, key=True),
            Column("notes", S, nullable=True),
        ),
        "activity_id",
        "occurred_at",
    ),
    "crm/opportunities": Contract(
        "crm/opportunities",
        (
            Column("opportunity_id", S, key=True),
            Column("account_id", S, key=True),
            Column("created_at", TIMESTAMP),
            Column("stage", S),
            Column("is_closed", B),
            Column("is_won", B),
            Column("closed_at", TIMESTAMP, nullable=True),
            Column("amount", F, nullable=True),
        ),
        "opportunity_id",
        None,
    ),
}

#: Columns extract adds to every raw row: where it came from, and what could not be coerced.
LINEAGE_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("source_file", pa.string()),
    ("source_line", pa.int64()),
    ("coercion_errors", pa.string()),
)


def raw_schema(source: str) -> pa.Schema:
    """Arrow schema of raw/<source>/dt=D: the contract plus lineage columns."""
    return CONTRACTS[source].arrow_schema(LINEAGE_COLUMNS)


def quarantine_schema(source: str) -> pa.Schema:
    return raw_schema(source).append(pa.field("failed_checks", pa.string()))


IP_RANGES_SCHEMA = pa.schema(
    [
        pa.field("cidr", pa.string()),
        pa.field("company_domain", pa.string()),
        pa.field("company_name", pa.string()),
        pa.field("kind", pa.string()),
    ]
)
