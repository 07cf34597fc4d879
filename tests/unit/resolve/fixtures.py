"""Hand-made valid partitions for identity tests: a tiny CRM, reference data and events."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd

from include.scoring.core.config import load_config
from include.scoring.core.contracts import CONTRACTS, IP_RANGES_SCHEMA, raw_schema
from include.scoring.lake import catalog
from include.scoring.lake.store import Lake
from include.scoring.resolve.stage import resolve_identities

D = date(2026, 7, 1)
BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0"


def at(day: date, hour: int = 12, second: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 0, second, tzinfo=UTC)


ACCOUNTS = [
    {
        "account_id": "A1",
        "name": "Acme, Inc. ",
        "domain": "http://www.acme.com/",
        "alt_domains": "ACME-GROUP.COM, acme.de",
    },
    {"account_id": "A2", "name": "Koala Mining ", "domain": "koala.com.au"},
    {"account_id": "A3", "name": "Thames Water", "domain": "https://thames.co.uk"},
    {"account_id": "A4", "name": "Cloud Nine", "domain": "cloudnine.io"},
]
CONTACTS = [
    {"contact_id": "C1", "account_id": "A1", "email": "Jane.Doe@acme.com", "role": "decision_maker"},
    {"contact_id": "C2", "account_id": "A2", "email": "jo.bloggs@gmail.com", "role": "user"},
    {"contact_id": "C3", "account_id": "A3", "email": "sam@thames.co.uk", "role": "champion"},
]
RANGES = [
    {"cidr": "20.0.0.0/12", "company_domain": None, "company_name": "Overlap Telecom", "kind": "isp"},
    {"cidr": "20.0.5.0/24", "company_domain": "acme.com", "company_name": "Acme", "kind": "corporate"},
    {"cidr": "2001:db8:5::/48", "company_domain": "cloudnine.io", "company_name": None, "kind": "corporate"},
    {"cidr": "2001:db8::/32", "company_domain": None, "company_name": "IPv6 Transit", "kind": "isp"},
    {"cidr": "100.64.0.0/10", "company_domain": None, "company_name": "Mobile Carrier", "kind": "mobile"},
    {"cidr": "70.0.0.0/8", "company_domain": None, "company_name": "Cable ISP", "kind": "isp"},
    {"cidr": "17.0.0.0/8", "company_domain": None, "company_name": "Mail Privacy Proxy", "kind": "hosting"},
    {"cidr": "45.0.0.0/16", "company_domain": "globex.example", "company_name": "Globex", "kind": "corporate"},
]


def _rows(source: str, rows: list[dict], day: date) -> pd.DataFrame:
    contract = CONTRACTS[source]
    defaults = {c.name: None for c in contract.columns}
    full = []
    for row in rows:
        values = {**defaults, **row}
        if contract.time_column and values.get(contract.time_column) is None:
            values[contract.time_column] = at(day)
        full.append(values)
    df = pd.DataFrame(full, columns=contract.names)
    df["source_file"] = f"{source}/test"
    df["source_line"] = range(1, len(df) + 1)
    df["coercion_errors"] = None
    return df


def write_day(
    lake: Lake,
    day: date = D,
    web=(),
    email=(),
    ad=(),
    activities=(),
    accounts=ACCOUNTS,
    contacts=CONTACTS,
    ranges=RANGES,
    free=("gmail.com", "yahoo.com"),
):
    """Valid partitions and reference data of one day, as validate and extract would leave them."""
    for i, row in enumerate(web):
        row.setdefault("event_id", f"w{day:%d}-{i}")
        row.setdefault("user_agent", BROWSER)
        row.setdefault("url", "https://www.northwind.io/")
        row.setdefault("event_type", "page_view")
        row.setdefault("ip", "70.1.1.1")
        row.setdefault("anonymous_id", f"ck_anon_{day:%d}_{i}")
    for i, row in enumerate(email):
        row.setdefault("event_id", f"e{day:%d}-{i}")
        row.setdefault("campaign_id", "cmp-1")
    for i, row in enumerate(ad):
        row.setdefault("event_id", f"a{day:%d}-{i}")
        row.setdefault("platform", "linkedin")
        row.setdefault("campaign_id", "li-1")
        row.setdefault("event_type", "impression")
    acc = [{"lifecycle": "prospect", "updated_at": at(day - timedelta(days=30)), **a} for a in accounts]
    con = [{"updated_at": at(day - timedelta(days=30)), **c} for c in contacts]
    frames = {
        "web": web,
        "email": email,
        "ad": ad,
        "crm/accounts": acc,
        "crm/contacts": con,
        "crm/activities": activities,
        "crm/opportunities": [],
    }
    for source, rows in frames.items():
        lake.write_partition(catalog.valid(source), day, _rows(source, list(rows), day), schema=raw_schema(source))
    lake.write_partition(
        catalog.IP_RANGES, day, pd.DataFrame(ranges, columns=IP_RANGES_SCHEMA.names), schema=IP_RANGES_SCHEMA
    )
    lake.write_partition(catalog.FREE_EMAIL_DOMAINS, day, pd.DataFrame({"domain": list(free)}))


def run(lake: Lake, day: date = D, **events) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Write the day's events, resolve it, and return its resolved, unresolved and filtered rows
    (by event id), after checking that every event landed in exactly one of them."""
    write_day(lake, day, **events)
    result = resolve_identities(lake, load_config(), day)
    resolved = lake.read_df(catalog.RESOLVED, day).set_index("event_id")
    unresolved = lake.read_df(catalog.UNRESOLVED, day).set_index("event_id")
    filtered = lake.read_df(catalog.FILTERED, day).set_index("event_id")
    total = sum(len(v) for v in events.values())
    assert result.count("events") == total == len(resolved) + len(unresolved) + len(filtered)  # conservation
    return resolved, unresolved, filtered


def outcome(frames, event_id: str) -> tuple:
    """(account, method) of a resolved event, (None, reason) of an unresolved one, (None, 'filtered:reason')."""
    resolved, unresolved, filtered = frames
    if event_id in resolved.index:
        row = resolved.loc[event_id]
        return (row["account_id"], row["resolution_method"])
    if event_id in unresolved.index:
        return (None, unresolved.loc[event_id, "reason"])
    return (None, "filtered:" + filtered.loc[event_id, "reason"])
