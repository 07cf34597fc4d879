"""Hand-made resolved events and CRM snapshots for scoring tests, and a day-by-day scorer."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import count

import pandas as pd

from include.scoring.core.config import ScoringConfig, load_config, parse_config
from include.scoring.core.contracts import raw_schema
from include.scoring.lake import catalog
from include.scoring.lake.store import Lake, days_between
from include.scoring.resolve.stage import RESOLVED_COLUMNS
from include.scoring.score.stage import score_accounts

START = date(2026, 1, 5)
_ids = count()


def at(day: date, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def event(
    day: date,
    kind: str,
    account: str = "A1",
    person: str | None = "p1",
    role: str | None = None,
    hour: int = 12,
    minute: int = 0,
    **extra,
) -> dict:
    """A resolved event by short name: pricing, product, page, demo, webinar, download, open, click,
    ad_click, impression, or a CRM activity type (crm:<activity_type>)."""
    base = {
        "event_id": extra.pop("event_id", f"ev{next(_ids)}"),
        "event_time": at(day, hour, minute),
        "account_id": account,
        "person_key": person,
        "contact_id": None,
        "role": role,
        "resolution_method": "crm_contact",
        "url": None,
        "form_type": None,
        "campaign_id": None,
        "platform": None,
    }
    web = {
        "pricing": ("page_view", "https://www.northwind.io/pricing", None),
        "product": ("page_view", "https://www.northwind.io/product/a", None),
        "page": ("page_view", "https://www.northwind.io/blog/x", None),
        "demo": ("form_submit", "https://www.northwind.io/forms/demo", "demo_request"),
        "webinar": ("form_submit", "https://www.northwind.io/forms/w", "webinar_attended"),
        "download": ("form_submit", "https://www.northwind.io/forms/d", "content_download"),
    }
    if kind in web:
        etype, url, form = web[kind]
        base.update(source="web", event_type=etype, url=url, form_type=form)
    elif kind in ("open", "click", "reply", "delivered"):
        base.update(source="email", event_type=kind, campaign_id="cmp-1")
    elif kind in ("ad_click", "impression"):
        base.update(
            source="ad",
            event_type={"ad_click": "click", "impression": "impression"}[kind],
            campaign_id="li-1",
            platform="linkedin",
        )
    elif kind.startswith("crm:"):
        base.update(source="crm", event_type=kind[4:], resolution_method="crm_activity")
    else:
        raise ValueError(kind)
    base.update(extra)
    return base


def write_events(lake: Lake, day: date, events: list[dict]) -> None:
    frame = pd.DataFrame(events, columns=RESOLVED_COLUMNS) if events else pd.DataFrame(columns=RESOLVED_COLUMNS)
    frame["event_time"] = pd.to_datetime(frame["event_time"], utc=True).dt.as_unit("us")
    lake.write_partition(catalog.RESOLVED, day, frame)


def write_crm(
    lake: Lake,
    day: date,
    accounts=("A1", "A2"),
    won: dict[str, date] | None = None,
    lifecycle: dict[str, str] | None = None,
) -> None:
    acc = pd.DataFrame(
        {
            "account_id": list(accounts),
            "name": [f"Account {a}" for a in accounts],
            "domain": [f"{a.lower()}.com" for a in accounts],
            "lifecycle": [(lifecycle or {}).get(a, "prospect") for a in accounts],
            "abm_tier": 1,
            "owner_email": "owner@northwind.io",
            "sdr_email": "sdr@northwind.io",
            "updated_at": at(day),
        }
    )
    acc = acc.reindex(columns=raw_schema("crm/accounts").names)
    lake.write_partition(catalog.valid("crm/accounts"), day, acc, schema=raw_schema("crm/accounts"))
    won = won or {}
    if not won:
        lake.write_partition(catalog.valid("crm/opportunities"), day, None, schema=raw_schema("crm/opportunities"))
        return
    opps = pd.DataFrame(
        {
            "opportunity_id": [f"O{i}" for i in range(len(won))],
            "account_id": list(won),
            "created_at": [at(d - timedelta(days=20)) for d in won.values()],
            "stage": "Closed Won",
            "is_closed": True,
            "is_won": True,
            "closed_at": [at(d) for d in won.values()],
        }
    )
    opps = opps.reindex(columns=raw_schema("crm/opportunities").names)
    lake.write_partition(catalog.valid("crm/opportunities"), day, opps, schema=raw_schema("crm/opportunities"))


def score_range(
    lake: Lake,
    start: date,
    end: date,
    events_by_day: dict[date, list[dict]],
    config: ScoringConfig | None = None,
    **crm,
) -> pd.DataFrame:
    """Write events and CRM for every day, score day by day (incrementally), return all score rows."""
    config = config or load_config()
    frames = []
    for day in days_between(start, end):
        write_events(lake, day, events_by_day.get(day, []))
        write_crm(lake, day, **crm)
        score_accounts(lake, config, day)
        frames.append(lake.read_df(catalog.SCORES, day))
    return pd.concat(frames, ignore_index=True)


def config_with(**changes) -> ScoringConfig:
    """The default config with nested changes, e.g. config_with(decay={'half_life_days': 10})."""
    raw = load_config().model_dump(mode="json")
    for key, value in changes.items():
        if isinstance(value, dict):
            raw[key].update(value)
        else:
            raw[key] = value
    return parse_config(raw)


def row(scores: pd.DataFrame, day: date, account: str = "A1") -> pd.Series:
    return scores[(scores["as_of"] == day) & (scores["account_id"] == account)].iloc[0]
