"""Configuration of the real sources: the CRM connectors (Salesforce, HubSpot) and Segment events.

Part of the one YAML config (`crm:` and `segment:`), validated like the rest: a typo names the key
and the keys allowed there. These settings shape what extract reads, never how a score is
computed from it, so they are left out of the config fingerprint (changing a field name does not
replay scoring history).

Every field map names, per contract column, the CRM field it comes from; `null` leaves a nullable
column empty (the field is not read). Value maps translate the CRM's picklist values into the
contract's; a value they do not know passes through unchanged, so validation quarantines it with
the value shown instead of it being guessed.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Lifecycle = Literal["prospect", "customer", "churned"]
Role = Literal["decision_maker", "champion", "influencer", "user", "researcher", "other"]
ActivityType = Literal[
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
]
#: A Salesforce field (API name), relationship paths allowed: `Owner.Email`. Only these characters
#: ever reach a SOQL query, so a config cannot inject SOQL.
SfField = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$", max_length=200)]
SfObject = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$", max_length=80)]
#: A HubSpot property (internal name).
HsProperty = Annotated[str, Field(pattern=r"^[A-Za-z0-9_]+$", max_length=100)]
HsObject = Literal["calls", "meetings"]
#: The score columns the CRM push writes, by key (crm/connector.py PUSHED_FIELDS says how).
PushKey = Literal["score", "band", "trend", "percentile", "health", "scored_at"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ActivityRule(_Strict):
    """An activity of `object` whose fields match every pattern of `when` (whole value,
    case-insensitive regular expressions) has `activity_type`; the first matching rule wins."""

    object: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    when: dict[str, str] = Field(min_length=1)
    activity_type: ActivityType

    @field_validator("when")
    @classmethod
    def _patterns_compile(cls, value: dict[str, str]) -> dict[str, str]:
        for name, pattern in value.items():
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*", name):
                raise ValueError(f"{name!r} is not a field name")
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{name}: {pattern!r} is not a valid regular expression: {exc}") from exc
        return value


# Salesforce -------------------------------------------------------------------------------------
class SfAccounts(_Strict):
    object: SfObject = "Account"
    account_id: SfField = "Id"
    name: SfField = "Name"
    domain: SfField = "Website"
    alt_domains: SfField | None = "Alternate_Domains__c"
    industry: SfField | None = "Industry"
    employee_count: SfField | None = "NumberOfEmployees"
    abm_tier: SfField | None = "ABM_Tier__c"
    owner_email: SfField | None = "Owner.Email"
    sdr_email: SfField | None = None
    parent_account_id: SfField | None = "ParentId"
    lifecycle: SfField = "Type"
    updated_at: SfField = "LastModifiedDate"
    lifecycle_values: dict[str, Lifecycle] = {
        "Prospect": "prospect",
        "Customer": "customer",
        "Customer - Direct": "customer",
        "Customer - Channel": "customer",
        "Former Customer": "churned",
    }
    #: the lifecycle of an account whose Type is empty or not in lifecycle_values
    default_lifecycle: Lifecycle = "prospect"
    abm_tier_values: dict[str, int] = {"Tier 1": 1, "Tier 2": 2, "Tier 3": 3}


class SfContacts(_Strict):
    object: SfObject = "Contact"
    contact_id: SfField = "Id"
    account_id: SfField = "AccountId"
    email: SfField = "Email"
    first_name: SfField | None = "FirstName"
    last_name: SfField | None = "LastName"
    title: SfField | None = "Title"
    role: SfField | None = "Buying_Role__c"
    updated_at: SfField = "LastModifiedDate"
    role_values: dict[str, Role] = {
        "Decision Maker": "decision_maker",
        "Economic Buyer": "decision_maker",
        "Champion": "champion",
        "Influencer": "influencer",
        "User": "user",
        "End User": "user",
        "Researcher": "researcher",
        "Evaluator": "researcher",
        "Other": "other",
    }
    #: the role of a contact whose role field is empty
    default_role: Role = "other"


SF_ACTIVITY_RULES = [
    {"object": obj, "when": {"Type": value}, "activity_type": kind}
    for obj in ("Task", "Event")
    for value, kind in (
        ("Call", "call_completed"),
        ("Meeting Scheduled", "meeting_scheduled"),
        ("Meeting", "meeting_completed"),
        ("Demo Scheduled", "demo_scheduled"),
        ("Demo", "demo_completed"),
        ("RFP", "rfp_issued"),
        ("Proposal", "proposal_sent"),
        ("Pricing", "pricing_discussion"),
        ("Legal Review", "legal_review"),
        ("LinkedIn Connection", "linkedin_connection_accepted"),
        ("LinkedIn Reply", "linkedin_message_response"),
        ("Not Interested", "not_interested"),
    )
] + [{"object": "Task", "when": {"TaskSubtype": "Call"}, "activity_type": "call_completed"}]


class SfActivities(_Strict):
    objects: list[SfObject] = Field(["Task", "Event"], min_length=1)
    activity_id: SfField = "Id"
    account_id: SfField = "AccountId"
    contact_id: SfField | None = "WhoId"
    #: the type of the record contact_id points at: only a Contact's id is kept (a Lead's is not)
    contact_type: SfField | None = "Who.Type"
    notes: SfField | None = "Description"
    #: per object, the fields giving the activity's time, first non-empty wins (a date is midnight UTC)
    occurred_at: dict[str, list[SfField]] = {
        "Task": ["CompletedDateTime", "ActivityDate", "CreatedDate"],
        "Event": ["ActivityDateTime", "ActivityDate", "CreatedDate"],
    }
    rules: list[ActivityRule] = [ActivityRule(**rule) for rule in SF_ACTIVITY_RULES]


class SfOpportunities(_Strict):
    object: SfObject = "Opportunity"
    opportunity_id: SfField = "Id"
    account_id: SfField = "AccountId"
    created_at: SfField = "CreatedDate"
    stage: SfField = "StageName"
    is_closed: SfField = "IsClosed"
    is_won: SfField = "IsWon"
    closed_at: SfField | None = "CloseDate"
    amount: SfField | None = "Amount"


class Salesforce(_Strict):
    api_version: str = Field("v60.0", pattern=r"^v\d+\.\d$")
    #: records per query page (the Sforce-Query-Options batch size, 200-2000)
    query_batch_size: int = Field(2000, ge=200, le=2000)
    #: records per composite update call (the API takes at most 200)
    push_batch: int = Field(200, ge=1, le=200)
    #: the field incremental reads compare with the last snapshot's high-water mark
    modified_field: SfField = "LastModifiedDate"
    accounts: SfAccounts = SfAccounts()
    contacts: SfContacts = SfContacts()
    activities: SfActivities = SfActivities()
    opportunities: SfOpportunities = SfOpportunities()
    push_fields: dict[PushKey, SfField] = {
        "score": "Engagement_Score__c",
        "band": "Engagement_Band__c",
        "trend": "Engagement_Trend__c",
        "percentile": "Engagement_Percentile__c",
        "health": "Engagement_Health__c",
        "scored_at": "Engagement_Scored_At__c",
    }

    @model_validator(mode="after")
    def _rules_name_read_objects(self) -> Salesforce:
        unknown = sorted({r.object for r in self.activities.rules} - set(self.activities.objects))
        if unknown:
            raise ValueError(f"activities.rules: object {unknown[0]!r} is not read; allowed: {self.activities.objects}")
        missing = [o for o in self.activities.objects if not self.activities.occurred_at.get(o)]
        if missing:
            raise ValueError(f"activities.occurred_at: no time fields for object {missing[0]!r}")
        return self


# HubSpot ----------------------------------------------------------------------------------------
class HsCompanies(_Strict):
    name: HsProperty = "name"
    domain: HsProperty = "domain"
    alt_domains: HsProperty | None = "hs_additional_domains"
    industry: HsProperty | None = "industry"
    employee_count: HsProperty | None = "numberofemployees"
    abm_tier: HsProperty | None = "hs_ideal_customer_profile"
    #: owner properties hold owner ids; they are turned into emails with the owners API
    owner: HsProperty | None = "hubspot_owner_id"
    sdr_owner: HsProperty | None = None
    parent_account_id: HsProperty | None = "hs_parent_company_id"
    lifecycle: HsProperty = "lifecyclestage"
    updated_at: HsProperty = "hs_lastmodifieddate"
    lifecycle_values: dict[str, Lifecycle] = {
        "customer": "customer",
        "evangelist": "customer",
        "churned": "churned",
        "former_customer": "churned",
    }
    default_lifecycle: Lifecycle = "prospect"
    abm_tier_values: dict[str, int] = {"tier_1": 1, "tier_2": 2, "tier_3": 3}


class HsContacts(_Strict):
    email: HsProperty = "email"
    first_name: HsProperty | None = "firstname"
    last_name: HsProperty | None = "lastname"
    title: HsProperty | None = "jobtitle"
    role: HsProperty | None = "hs_buying_role"
    updated_at: HsProperty = "lastmodifieddate"
    role_values: dict[str, Role] = {
        "DECISION_MAKER": "decision_maker",
        "BUDGET_HOLDER": "decision_maker",
        "EXECUTIVE_SPONSOR": "decision_maker",
        "CHAMPION": "champion",
        "INFLUENCER": "influencer",
        "BLOCKER": "influencer",
        "END_USER": "user",
        "RESEARCHER": "researcher",
        "LEGAL_AND_COMPLIANCE": "other",
        "OTHER": "other",
    }
    default_role: Role = "other"


HS_ACTIVITY_RULES = [
    {"object": "meetings", "when": {"hs_meeting_title": ".*demo.*", "hs_meeting_outcome": "SCHEDULED"},
     "activity_type": "demo_scheduled"},
    {"object": "meetings", "when": {"hs_meeting_title": ".*demo.*", "hs_meeting_outcome": "COMPLETED"},
     "activity_type": "demo_completed"},
    {"object": "meetings", "when": {"hs_meeting_outcome": "SCHEDULED"}, "activity_type": "meeting_scheduled"},
    {"object": "meetings", "when": {"hs_meeting_outcome": "COMPLETED"}, "activity_type": "meeting_completed"},
    {"object": "calls", "when": {"hs_call_title": ".*not interested.*"}, "activity_type": "not_interested"},
    {"object": "calls", "when": {"hs_call_title": ".*\\brfp\\b.*"}, "activity_type": "rfp_issued"},
    {"object": "calls", "when": {"hs_call_title": ".*proposal.*"}, "activity_type": "proposal_sent"},
    {"object": "calls", "when": {"hs_call_title": ".*pricing.*"}, "activity_type": "pricing_discussion"},
    {"object": "calls", "when": {"hs_call_title": ".*legal.*"}, "activity_type": "legal_review"},
    {"object": "calls", "when": {"hs_call_title": ".*linkedin connection.*"},
     "activity_type": "linkedin_connection_accepted"},
    {"object": "calls", "when": {"hs_call_title": ".*linkedin (reply|message).*"},
     "activity_type": "linkedin_message_response"},
    {"object": "calls", "when": {"hs_call_status": "COMPLETED"}, "activity_type": "call_completed"},
]  # fmt: skip


class HsActivities(_Strict):
    objects: list[HsObject] = Field(["calls", "meetings"], min_length=1)
    occurred_at: HsProperty = "hs_timestamp"
    notes: dict[HsObject, HsProperty] = {"calls": "hs_call_body", "meetings": "hs_meeting_body"}
    rules: list[ActivityRule] = [ActivityRule(**rule) for rule in HS_ACTIVITY_RULES]


class HsDeals(_Strict):
    created_at: HsProperty = "createdate"
    stage: HsProperty = "dealstage"
    is_closed: HsProperty = "hs_is_closed"
    is_won: HsProperty = "hs_is_closed_won"
    closed_at: HsProperty | None = "closedate"
    amount: HsProperty | None = "amount"


class HubSpot(_Strict):
    #: records per page (the API takes at most 100 on list endpoints)
    page_size: int = Field(100, ge=1, le=100)
    #: inputs per batch update call (the API takes at most 100)
    push_batch: int = Field(100, ge=1, le=100)
    #: the private app's request budget per rolling 10 seconds (100 on most plans, 190 on some)
    requests_per_10_seconds: int = Field(100, ge=1, le=1000)
    #: an incremental read finding more changed records than the search API returns (10,000) reads in full
    search_limit: int = Field(10_000, ge=100, le=10_000)
    companies: HsCompanies = HsCompanies()
    contacts: HsContacts = HsContacts()
    deals: HsDeals = HsDeals()
    activities: HsActivities = HsActivities()
    push_fields: dict[PushKey, HsProperty] = {
        "score": "engagement_score",
        "band": "engagement_band",
        "trend": "engagement_trend",
        "percentile": "engagement_percentile",
        "health": "engagement_health",
        "scored_at": "engagement_scored_at",
    }

    @model_validator(mode="after")
    def _rules_name_read_objects(self) -> HubSpot:
        unknown = sorted({r.object for r in self.activities.rules} - set(self.activities.objects))
        if unknown:
            raise ValueError(f"activities.rules: object {unknown[0]!r} is not read; allowed: {self.activities.objects}")
        return self


class Http(_Strict):
    timeout_seconds: float = Field(60, gt=0)
    #: total seconds one request may spend waiting between retries (rate limits, 5xx, timeouts)
    retry_budget_seconds: float = Field(300, ge=0)
    #: first wait after a failure; doubled each time (Retry-After wins when the API sends one)
    backoff_seconds: float = Field(2, ge=0)
    max_backoff_seconds: float = Field(60, gt=0)


class Crm(_Strict):
    #: read only what changed since the last snapshot (merged into it) where the API allows
    incremental: bool = True
    #: ... but read everything again once the last full read is this many days old (deletions show)
    full_refresh_days: int = Field(7, ge=1)
    #: an incremental read starts this many minutes before the last high-water mark (late commits)
    overlap_minutes: int = Field(10, ge=0)
    http: Http = Http()
    salesforce: Salesforce = Salesforce()
    hubspot: HubSpot = HubSpot()


# Segment / RudderStack --------------------------------------------------------------------------
class TrackMapping(_Strict):
    event_type: Literal["form_submit", "download"]
    form_type: (
        Literal[
            "demo_request",
            "contact_sales",
            "webinar_registration",
            "webinar_attended",
            "content_download",
            "case_study_request",
        ]
        | None
    ) = None


class Segment(_Strict):
    #: `track` event names (exact, case-insensitive) -> web event; other track events are counted and skipped
    track_events: dict[str, TrackMapping] = {
        "Demo Requested": TrackMapping(event_type="form_submit", form_type="demo_request"),
        "Contact Sales Requested": TrackMapping(event_type="form_submit", form_type="contact_sales"),
        "Webinar Registered": TrackMapping(event_type="form_submit", form_type="webinar_registration"),
        "Webinar Attended": TrackMapping(event_type="form_submit", form_type="webinar_attended"),
        "Content Downloaded": TrackMapping(event_type="form_submit", form_type="content_download"),
        "Case Study Requested": TrackMapping(event_type="form_submit", form_type="case_study_request"),
        "Form Submitted": TrackMapping(event_type="form_submit"),
        "File Downloaded": TrackMapping(event_type="download"),
    }
    #: `group` traits holding the company's web domain (first non-empty wins)
    group_domain_traits: list[str] = ["domain", "website"]

    @field_validator("track_events")
    @classmethod
    def _names_unique_ignoring_case(cls, value: dict[str, TrackMapping]) -> dict[str, TrackMapping]:
        lowered = [name.strip().lower() for name in value]
        repeated = sorted({n for n in lowered if lowered.count(n) > 1})
        if repeated:
            raise ValueError(f"event name {repeated[0]!r} is listed twice (names are compared ignoring case)")
        return value
