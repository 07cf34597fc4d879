"""The full-model DuckDB scoring reference (benchmarks/duckdb_score_ref.py) against the score stage.

Eight weeks of resolved events for 24 accounts, drawn with a seeded generator so that every part
of the model fires within them under a config with short windows: half-life decay, resets
(not_interested), idle halving, points leaving the accumulation window, the daily cap,
de-duplication, the combination bonus, breadth and the buying group, surge, customers by lifecycle
and by a won deal, every customer health and its alerts, band changes and threshold alerts, events
sharing a time (the event id decides). The score stage runs day by day, as the daily DAG does
(incremental from the day before's state); the reference runs the same days on its own state; every
day's contributions, score rows and changes must agree row for row. The comparison is shown to catch
a single changed value.
"""

from __future__ import annotations

import shutil
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from benchmarks.duckdb_score_check import compare
from benchmarks.duckdb_score_ref import score_day
from include.scoring.core.config import load_config
from include.scoring.core.contracts import raw_schema
from include.scoring.lake import catalog
from include.scoring.lake.store import Lake, days_between
from include.scoring.resolve.stage import RESOLVED_SCHEMA, in_time_order
from include.scoring.score.stage import score_accounts

pytestmark = pytest.mark.integration
START, DAYS, ACCOUNTS = date(2026, 9, 1), 56, 24
ROLES = ["decision_maker", "champion", "influencer", "user", None]
# (source, event_type, form_type, url, campaign): what a person can do
TEMPLATES = [
    ("web", "form_submit", "demo_request", "https://acme.io/demo", None),
    ("web", "form_submit", "webinar_attended", "https://acme.io/webinar?id=3", None),
    ("web", "form_submit", "content_download", "https://acme.io/guide", None),
    ("web", "page_view", None, "https://acme.io/pricing?utm=x", None),
    ("web", "page_view", None, "HTTPS://Acme.io/Pricing/", None),
    ("web", "page_view", None, "https://acme.io/products/a#top", None),
    ("web", "page_view", None, "https://acme.io/products/b", None),
    ("web", "page_view", None, "https://acme.io/blog/x", None),
    ("web", "page_view", None, "/", None),
    ("email", "open", None, None, "cmp-1"),
    ("email", "click", None, "https://acme.io/x", "cmp-1"),
    ("email", "click", None, "https://acme.io/y", "cmp-2"),
    ("email", "delivered", None, None, "cmp-2"),
    ("ad", "impression", None, None, "ad-1"),
    ("ad", "click", None, None, "ad-1"),
    ("crm", "call_completed", None, None, None),
    ("crm", "meeting_scheduled", None, None, None),
]


def _config():
    config = load_config()
    updates = {
        "decay": {"idle_halving_days": 6, "half_life_days": 20},
        "accumulation": {"window_days": 8},
        "breadth": {"window_days": 5, "points_per_person": 10, "max_people": 3},
        "buying_group": {"window_days": 4},
        "trend": {"new_people_days": 3, "person_memory_days": 10, "surge_baseline_weeks": 2, "surge_min_points": 5},
        "customer_health": {"recent_days": 7, "baseline_weeks": 4, "dormant_days": 5, "expanding_new_people": 2},
        "points": {"daily_cap": 15, "combination_bonus": {"within_days": 3}},
    }
    data = config.model_dump()
    for key, value in updates.items():
        data[key] = {**data[key], **value} if isinstance(data[key], dict) else value
    return type(config).model_validate(data)


def _crm(lake: Lake, days: list[date]) -> None:
    ids = [f"ACC-{i:03d}" for i in range(ACCOUNTS)]
    accounts = pd.DataFrame(
        {
            "account_id": ids,
            "name": [f"  Company {i} " for i in range(ACCOUNTS)],
            "abm_tier": [i % 3 + 1 for i in range(ACCOUNTS)],
            "owner_email": [None if i % 7 == 0 else f"owner{i}@acme.io" for i in range(ACCOUNTS)],
            "sdr_email": ["" if i % 5 == 0 else f"sdr{i}@acme.io" for i in range(ACCOUNTS)],
            "lifecycle": ["customer" if i % 4 == 0 else ("prospect" if i % 3 else None) for i in range(ACCOUNTS)],
            "updated_at": pd.Timestamp(START, tz="UTC"),
        }
    ).reindex(columns=raw_schema("crm/accounts").names)
    won = pd.Timestamp(START + timedelta(days=20), tz="UTC")
    opps = pd.DataFrame(
        {
            "opportunity_id": ["OPP-1", "OPP-2", "OPP-3"],
            "account_id": ["ACC-001", "ACC-002", "ACC-003"],
            "created_at": pd.Timestamp(START, tz="UTC"),
            "is_won": [True, False, True],
            "closed_at": [won, won, pd.NaT],
        }
    ).reindex(columns=raw_schema("crm/opportunities").names)
    for day in days:
        lake.write_partition(catalog.valid("crm/accounts"), day, accounts, schema=raw_schema("crm/accounts"))
        lake.write_partition(catalog.valid("crm/opportunities"), day, opps, schema=raw_schema("crm/opportunities"))


def _events(day: date, rng: np.random.Generator) -> pd.DataFrame:
    """A day's resolved events: accounts busy in spells (idle ones halve and go dormant), a few
    persons each with a role, anonymous visitors, some times shared, now and then a reset."""
    spell = (day - START).days // 9
    rates = np.where((np.arange(ACCOUNTS) + spell) % 3 == 0, 0.0, rng.gamma(1.5, 4.0, ACCOUNTS))
    per_account = rng.poisson(rates)
    account = np.repeat(np.arange(ACCOUNTS), per_account)
    k = len(account)
    person = rng.integers(0, 5, k)
    template = rng.integers(0, len(TEMPLATES), k)
    seconds = rng.integers(0, 86_400, k)
    seconds[rng.random(k) < 0.2] = 43_200  # shared times: the event id decides the order
    rows = [TEMPLATES[t] for t in template]
    frame = pd.DataFrame(
        {
            "event_id": [f"e{day:%m%d}-{i:05d}" for i in rng.permutation(k)],
            "source": [r[0] for r in rows],
            "event_time": pd.Timestamp(day, tz="UTC") + pd.to_timedelta(seconds, unit="s"),
            "event_type": [r[1] for r in rows],
            "account_id": [f"ACC-{a:03d}" for a in account],
            "person_key": [None if p == 4 else f"p-{a}-{p}" for a, p in zip(account, person, strict=True)],
            "role": [ROLES[(a + p) % len(ROLES)] if p < 4 else None for a, p in zip(account, person, strict=True)],
            "url": [r[3] for r in rows],
            "form_type": [r[2] for r in rows],
            "campaign_id": [r[4] for r in rows],
        }
    )
    if rng.random() < 0.3 and k:  # a reset: someone said not interested
        at = int(rng.integers(0, k))
        frame.loc[at, ["source", "event_type", "url", "form_type", "campaign_id"]] = ["crm", "not_interested"] + [
            None
        ] * 3
    return frame.reindex(columns=RESOLVED_SCHEMA.names)


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    root = tmp_path_factory.mktemp("duckdb-score")
    lake, config = Lake(str(root / "lake")), _config()
    days = days_between(START, START + timedelta(days=DAYS - 1))
    _crm(lake, days)
    rng = np.random.default_rng(11)
    for day in days:
        lake.write_partition(catalog.RESOLVED, day, in_time_order(_events(day, rng)), schema=RESOLVED_SCHEMA)
        score_accounts(lake, config, day)
    out = root / "reference"
    checks = {day: (score_day(lake, config, day, out, START), compare(lake, day, out)) for day in days}
    return lake, out, days, checks


def test_reference_equals_score_stage_every_day(scored):
    lake, _, days, checks = scored
    bad = {str(day): check for day, (_, check) in checks.items() if not check["identical"]}
    assert not bad, next(iter(bad.items()))
    # the days exercised what the reference claims to cover
    con_rows = pd.concat([lake.read(catalog.CHANGES, d).to_pandas() for d in days])
    kinds = set(zip(con_rows["kind"], con_rows["rule"], strict=True))
    for wanted in [
        ("reset", "not_interested"),
        ("reset", "idle_halving"),
        ("band_change", "band"),
        ("health_change", "health"),
        ("alert", "threshold_25"),
        ("alert", "health_dormant"),
    ]:
        assert wanted in kinds, f"no {wanted} in {DAYS} days"
    contribs = pd.concat([lake.read(catalog.CONTRIBUTIONS, d).to_pandas() for d in days])
    assert {"duplicate", "daily_cap"} <= set(contribs["adjustment"].dropna())
    assert (contribs["signal"] == "combination_bonus").any()
    scores = pd.concat([lake.read(catalog.SCORES, d).to_pandas() for d in days])
    assert scores["surge"].any() and {"healthy", "at_risk", "expanding", "dormant"} <= set(scores["health"].dropna())
    assert sum(check["contributions"]["rows"] for _, check in checks.values()) > 5_000


def test_comparison_catches_one_changed_value(scored, tmp_path):
    lake, out, days, _ = scored
    day = days[30]
    copy = tmp_path / "reference"
    shutil.copytree(out / f"dt={day.isoformat()}", copy / f"dt={day.isoformat()}")
    path = copy / f"dt={day.isoformat()}" / "contributions.parquet"
    frame = pd.read_parquet(path)
    frame.loc[len(frame) // 2, "points"] += 0.5
    frame.to_parquet(path, index=False)
    check = compare(lake, day, copy)
    assert not check["identical"] and check["contributions"]["mismatched"] == 1
    assert check["scores"]["mismatched"] == 0
