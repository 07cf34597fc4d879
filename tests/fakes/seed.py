"""The same CRM data three ways: a SQL CRM, a fake Salesforce org and a fake HubSpot portal.

`crm_frames` reads the four contract tables of a (generated) SQL CRM; `representable` keeps only
what the target CRM can hold (times to the millisecond; Salesforce's CloseDate is a date), and
`write_sql_crm` writes those frames as a SQL CRM again, so the SQL path and a connector read the
same data. `salesforce_data` and `hubspot_data` turn the frames into each CRM's objects the way a
team would have them (the default field names, picklist values and activity types of
include/config/engagement.yaml), plus a few records that are not part of the contract (tasks of
other types, calls nobody typed) which the connectors must count and leave out.
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from include.sample.landing import write_crm
from include.scoring.core.contracts import CRM_TABLES
from include.scoring.core.source_config import Salesforce
from tests.fakes.hubspot import FakeHubSpot, hs_time
from tests.fakes.salesforce import FakeSalesforce, sf_time

TIME_COLUMNS = {
    "accounts": ["updated_at"],
    "contacts": ["updated_at"],
    "activities": ["occurred_at"],
    "opportunities": ["created_at", "closed_at"],
}
SF_LIFECYCLE = {"prospect": "Prospect", "customer": "Customer - Direct", "churned": "Former Customer"}
SF_ROLE = {
    "decision_maker": "Decision Maker",
    "champion": "Champion",
    "influencer": "Influencer",
    "user": "User",
    "researcher": "Researcher",
    "other": "Other",
}
SF_ACTIVITY = {
    "call_completed": ("Task", "Call"),
    "meeting_scheduled": ("Event", "Meeting Scheduled"),
    "meeting_completed": ("Event", "Meeting"),
    "demo_scheduled": ("Event", "Demo Scheduled"),
    "demo_completed": ("Event", "Demo"),
    "rfp_issued": ("Task", "RFP"),
    "proposal_sent": ("Task", "Proposal"),
    "pricing_discussion": ("Task", "Pricing"),
    "legal_review": ("Task", "Legal Review"),
    "linkedin_connection_accepted": ("Task", "LinkedIn Connection"),
    "linkedin_message_response": ("Task", "LinkedIn Reply"),
    "not_interested": ("Task", "Not Interested"),
}
HS_LIFECYCLE = {"prospect": "opportunity", "customer": "customer", "churned": "churned"}
HS_ROLE = {
    "decision_maker": "DECISION_MAKER",
    "champion": "CHAMPION",
    "influencer": "INFLUENCER",
    "user": "END_USER",
    "researcher": "RESEARCHER",
    "other": "OTHER",
}
HS_ACTIVITY = {  # object, title, status or outcome
    "call_completed": ("calls", "Discovery call", "COMPLETED"),
    "meeting_scheduled": ("meetings", "Intro meeting", "SCHEDULED"),
    "meeting_completed": ("meetings", "Intro meeting", "COMPLETED"),
    "demo_scheduled": ("meetings", "Product demo", "SCHEDULED"),
    "demo_completed": ("meetings", "Product demo", "COMPLETED"),
    "rfp_issued": ("calls", "RFP received", "COMPLETED"),
    "proposal_sent": ("calls", "Proposal sent", "COMPLETED"),
    "pricing_discussion": ("calls", "Pricing call", "COMPLETED"),
    "legal_review": ("calls", "Legal review call", "COMPLETED"),
    "linkedin_connection_accepted": ("calls", "LinkedIn connection accepted", "COMPLETED"),
    "linkedin_message_response": ("calls", "LinkedIn reply", "COMPLETED"),
    "not_interested": ("calls", "Call: not interested", "COMPLETED"),
}
#: records of each fake that are not part of the contract, and why the connector leaves them out
SF_NOISE = 3  # Tasks of Type "Email"
HS_NOISE = 2  # calls with status NO_ANSWER


def crm_frames(crm_url: str) -> dict[str, pd.DataFrame]:
    engine = sa.create_engine(crm_url)
    with engine.connect() as conn:
        frames = {name: pd.read_sql_table(name, conn) for name in CRM_TABLES}
    engine.dispose()
    for name, columns in TIME_COLUMNS.items():
        for column in columns:
            frames[name][column] = pd.to_datetime(frames[name][column], utc=True)
    for column in ("employee_count", "abm_tier"):
        frames["accounts"][column] = frames["accounts"][column].astype("Int64")
    for column in ("is_closed", "is_won"):
        frames["opportunities"][column] = frames["opportunities"][column].astype(bool)
    return frames


def representable(frames: dict[str, pd.DataFrame], crm: str) -> dict[str, pd.DataFrame]:
    """What `crm` can hold of the frames: times to the millisecond (both APIs); Salesforce's
    opportunity CloseDate is a date (midnight UTC)."""
    out = {name: frame.copy() for name, frame in frames.items()}
    for name, columns in TIME_COLUMNS.items():
        for column in columns:
            out[name][column] = out[name][column].dt.floor("ms")
    if crm == "salesforce":
        out["opportunities"]["closed_at"] = out["opportunities"]["closed_at"].dt.floor("D")
    return out


def write_sql_crm(url: str, frames: dict[str, pd.DataFrame]) -> str:
    write_crm(url, frames)
    return url


def _none(value):
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value


def salesforce_data(api: FakeSalesforce, frames: dict[str, pd.DataFrame]) -> FakeSalesforce:
    acc = frames["accounts"]
    api.add(
        "Account",
        [
            {
                "Id": r.account_id,
                "Name": r.name,
                "Website": _none(r.domain),
                "Alternate_Domains__c": _none(r.alt_domains),
                "Industry": _none(r.industry),
                "NumberOfEmployees": None if pd.isna(r.employee_count) else int(r.employee_count),
                "ABM_Tier__c": None if pd.isna(r.abm_tier) else f"Tier {int(r.abm_tier)}",
                "Owner": None if _none(r.owner_email) is None else {"_type": "User", "Email": r.owner_email},
                "SDR_Email__c": _none(r.sdr_email),
                "ParentId": _none(r.parent_account_id),
                "Type": SF_LIFECYCLE[r.lifecycle],
                "LastModifiedDate": sf_time(r.updated_at),
            }
            for r in acc.itertuples()
        ],
        extra_fields=tuple(Salesforce().push_fields.values()),  # created as the default config names them
    )
    api.add(
        "Contact",
        [
            {
                "Id": r.contact_id,
                "AccountId": r.account_id,
                "Email": _none(r.email),
                "FirstName": _none(r.first_name),
                "LastName": _none(r.last_name),
                "Title": _none(r.title),
                "Buying_Role__c": SF_ROLE.get(r.role, r.role),
                "LastModifiedDate": sf_time(r.updated_at),
            }
            for r in frames["contacts"].itertuples()
        ],
    )
    tasks, events = [], []
    for r in frames["activities"].itertuples():
        obj, kind = SF_ACTIVITY[r.activity_type]
        record = {
            "Id": r.activity_id,
            "AccountId": r.account_id,
            "WhoId": _none(r.contact_id),
            "Who": None if _none(r.contact_id) is None else {"_type": "Name", "Type": "Contact"},
            "Type": kind,
            "Subject": kind,
            "Description": _none(r.notes),
            "ActivityDate": r.occurred_at.strftime("%Y-%m-%d"),
            "CreatedDate": sf_time(r.occurred_at + pd.Timedelta(hours=1)),
            "LastModifiedDate": sf_time(r.occurred_at + pd.Timedelta(hours=1)),
        }
        if obj == "Task":
            tasks.append({**record, "TaskSubtype": "Task", "CompletedDateTime": sf_time(r.occurred_at)})
        else:
            events.append({**record, "ActivityDateTime": sf_time(r.occurred_at)})
    first = frames["accounts"]["account_id"].iloc[0]
    for i in range(SF_NOISE):  # logged emails: not a contract activity type
        tasks.append({**tasks[0], "Id": f"00TNOISE{i}", "AccountId": first, "Type": "Email", "TaskSubtype": "Email"})
    api.add("Task", tasks, extra_fields=("CompletedDateTime", "TaskSubtype"))
    api.add("Event", events, extra_fields=("ActivityDateTime",))
    api.add(
        "Opportunity",
        [
            {
                "Id": r.opportunity_id,
                "AccountId": r.account_id,
                "CreatedDate": sf_time(r.created_at),
                "StageName": r.stage,
                "IsClosed": bool(r.is_closed),
                "IsWon": bool(r.is_won),
                "CloseDate": None if pd.isna(r.closed_at) else r.closed_at.strftime("%Y-%m-%d"),
                "Amount": None if pd.isna(r.amount) else float(r.amount),
                "LastModifiedDate": sf_time(r.created_at),
            }
            for r in frames["opportunities"].itertuples()
        ],
    )
    return api


def hubspot_data(api: FakeHubSpot, frames: dict[str, pd.DataFrame]) -> FakeHubSpot:
    acc = frames["accounts"]
    emails = sorted(set(acc["owner_email"].dropna()) | set(acc["sdr_email"].dropna()))
    owner_id = {e: str(9000 + i) for i, e in enumerate(emails)}
    api.owners = [{"id": owner_id[e], "email": e, "firstName": e.split("@")[0], "archived": False} for e in emails]
    api.add(
        "companies",
        [
            {
                "id": r.account_id,
                "properties": {
                    "name": r.name,
                    "domain": _none(r.domain),
                    "hs_additional_domains": None if _none(r.alt_domains) is None else r.alt_domains.replace(",", ";"),
                    "industry": _none(r.industry),
                    "numberofemployees": None if pd.isna(r.employee_count) else int(r.employee_count),
                    "hs_ideal_customer_profile": None if pd.isna(r.abm_tier) else f"tier_{int(r.abm_tier)}",
                    "hubspot_owner_id": owner_id.get(r.owner_email),
                    "sdr_owner_id": owner_id.get(r.sdr_email),
                    "hs_parent_company_id": _none(r.parent_account_id),
                    "lifecyclestage": HS_LIFECYCLE[r.lifecycle],
                    "hs_lastmodifieddate": hs_time(r.updated_at),
                    **{
                        f"engagement_{k}": None for k in ("score", "band", "trend", "percentile", "health", "scored_at")
                    },
                },
            }
            for r in acc.itertuples()
        ],
    )
    api.add(
        "contacts",
        [
            {
                "id": r.contact_id,
                "properties": {
                    "email": _none(r.email),
                    "firstname": _none(r.first_name),
                    "lastname": _none(r.last_name),
                    "jobtitle": _none(r.title),
                    "hs_buying_role": HS_ROLE.get(r.role, r.role),
                    "lastmodifieddate": hs_time(r.updated_at),
                },
                "associations": {"companies": [(r.account_id, True)]},
            }
            for r in frames["contacts"].itertuples()
        ],
    )
    engagements: dict[str, list] = {"calls": [], "meetings": []}
    for r in frames["activities"].itertuples():
        obj, title, status = HS_ACTIVITY[r.activity_type]
        kind = "call" if obj == "calls" else "meeting"
        links = {"companies": [(r.account_id, True)]}
        if _none(r.contact_id) is not None:
            links["contacts"] = [(r.contact_id, False)]
        engagements[obj].append(
            {
                "id": r.activity_id,
                "properties": {
                    "hs_timestamp": hs_time(r.occurred_at),
                    f"hs_{kind}_title": title,
                    ("hs_call_status" if obj == "calls" else "hs_meeting_outcome"): status,
                    f"hs_{kind}_body": _none(r.notes),
                    "hs_lastmodifieddate": hs_time(r.occurred_at + pd.Timedelta(hours=1)),
                },
                "associations": links,
            }
        )
    first = frames["accounts"]["account_id"].iloc[0]
    for i in range(HS_NOISE):  # unanswered calls: not a contract activity type
        noise = {**engagements["calls"][0]["properties"], "hs_call_title": "Left voicemail"}
        noise["hs_call_status"] = "NO_ANSWER"
        engagements["calls"].append(
            {"id": f"CALLNOISE{i}", "properties": noise, "associations": {"companies": [(first, True)]}}
        )
    for obj, records in engagements.items():
        api.add(obj, records)
    api.add(
        "deals",
        [
            {
                "id": r.opportunity_id,
                "properties": {
                    "createdate": hs_time(r.created_at),
                    "dealstage": r.stage,
                    "hs_is_closed": "true" if r.is_closed else "false",
                    "hs_is_closed_won": "true" if r.is_won else "false",
                    "closedate": hs_time(r.closed_at),
                    "amount": None if pd.isna(r.amount) else repr(float(r.amount)),
                    "hs_lastmodifieddate": hs_time(r.created_at),
                },
                "associations": {"companies": [(r.account_id, True)]},
            }
            for r in frames["opportunities"].itertuples()
        ],
    )
    return api
