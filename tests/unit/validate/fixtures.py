"""Hand-made raw partitions for validation tests: clean rows, then one defect at a time."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd

from include.scoring.core.contracts import CONTRACTS, raw_schema
from include.scoring.lake import catalog
from include.scoring.lake.store import Lake

D = date(2026, 6, 10)
T = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)


def web(i: int) -> dict:
    return {
        "event_id": f"w-{i}",
        "event_time": T,
        "anonymous_id": f"ck_{i}",
        "email": "jane.doe@acme.com",
        "ip": "20.0.0.9",
        "url": "https://www.northwind.io/pricing",
        "event_type": "form_submit",
        "form_type": "demo_request",
        "duration_seconds": 12.0,
        "user_agent": "Mozilla/5.0 (X11)",
        "referrer": None,
    }


def email(i: int) -> dict:
    return {
        "event_id": f"e-{i}",
        "event_time": T,
        "email": "jane.doe@acme.com",
        "campaign_id": "cmp-1",
        "event_type": "click",
        "url": "https://www.northwind.io/product",
        "user_agent": "Mozilla/5.0",
        "ip": "2001:db8:1::5",
    }


def ad(i: int) -> dict:
    return {
        "event_id": f"a-{i}",
        "event_time": T,
        "platform": "linkedin",
        "campaign_id": "li-1",
        "ad_id": "ad-1",
        "event_type": "click",
        "company_domain": "acme.com",
        "company_name": "Acme, Inc.",
        "anonymous_id": None,
        "email": "jane@acme.com",
        "ip": "20.0.0.9",
        "cost": 1.5,
    }


def accounts(i: int) -> dict:
    return {
        "account_id": f"A{i}",
        "name": f"Acme {i}",
        "domain": f"http://www.acme{i}.com",
        "alt_domains": None,
        "industry": "Retail",
        "employee_count": 100,
        "abm_tier": 1,
        "owner_email": "ae@northwind.io",
        "sdr_email": "sdr@northwind.io",
        "parent_account_id": None,
        "lifecycle": "prospect",
        "updated_at": T,
    }


def contacts(i: int) -> dict:
    return {
        "contact_id": f"C{i}",
        "account_id": "A0",
        "email": f"c{i}@acme{i}.com",
        "first_name": "Jo",
        "last_name": "Doe",
        "title": "CMO",
        "role": "decision_maker",
        "updated_at": T,
    }


def activities(i: int) -> dict:
    return {
        "activity_id": f"X{i}",
        "account_id": "A0",
        "contact_id": "C0",
        "activity_type": "call_completed",
        "occurred_at": T,
        "notes": None,
    }


def opportunities(i: int) -> dict:
    return {
        "opportunity_id": f"O{i}",
        "account_id": "A0",
        "created_at": T,
        "stage": "Closed Won",
        "is_closed": True,
        "is_won": True,
        "closed_at": T,
        "amount": 10.0,
    }


BUILDERS = {
    "web": web,
    "email": email,
    "ad": ad,
    "crm/accounts": accounts,
    "crm/contacts": contacts,
    "crm/activities": activities,
    "crm/opportunities": opportunities,
}


def frame(source: str, n: int = 30) -> pd.DataFrame:
    rows = [BUILDERS[source](i) for i in range(n)]
    df = pd.DataFrame(rows, columns=CONTRACTS[source].names)
    df["source_file"] = f"{source}/file.csv"
    df["source_line"] = range(2, n + 2)
    df["coercion_errors"] = None
    return df


def write_raw(lake: Lake, source: str, df: pd.DataFrame, day: date = D) -> None:
    lake.write_partition(catalog.raw(source), day, df, schema=raw_schema(source))


def write_clean_crm(lake: Lake, day: date = D, n: int = 30) -> None:
    for table in ("accounts", "contacts", "activities", "opportunities"):
        write_raw(lake, f"crm/{table}", frame(f"crm/{table}", n), day)
