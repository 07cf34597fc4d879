"""Shared setup of the CRM connector tests: one generated CRM, held three ways (SQL, fake
Salesforce, fake HubSpot), the config that maps it, and how two snapshots are compared."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import yaml

from include.scoring.core.config import DEFAULT_CONFIG_PATH, ScoringConfig, parse_config
from include.scoring.core.contracts import CRM_TABLES
from include.scoring.lake import catalog
from include.scoring.lake.store import Lake

DAY = date(2026, 11, 20)
#: the connectors' config for these CRMs: the defaults, plus where the SDR is kept (no default
#: field exists for it), quick retries and a large request budget (the fakes answer at once; the
#: budget itself is tested with a clock in tests/unit/crm)
CRM_OVERRIDES = {
    "salesforce": {"accounts": {"sdr_email": "SDR_Email__c"}},
    "hubspot": {"companies": {"sdr_owner": "sdr_owner_id"}, "requests_per_10_seconds": 1000},
    "http": {"backoff_seconds": 0.01, "max_backoff_seconds": 0.05, "retry_budget_seconds": 5},
}


def crm_config_data(**crm: dict) -> dict:
    raw = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    section = {k: dict(v) for k, v in CRM_OVERRIDES.items()}
    for key, value in crm.items():
        section[key] = {**section.get(key, {}), **value} if isinstance(value, dict) else value
    raw["crm"] = section
    return raw


def crm_config(**crm: dict) -> ScoringConfig:
    return parse_config(crm_config_data(**crm), "test config")


def write_config(path: Path, **crm: dict) -> Path:
    path.write_text(yaml.safe_dump(crm_config_data(**crm), sort_keys=False))
    return path


def snapshot(lake: Lake, day: date = DAY) -> dict[str, pd.DataFrame]:
    """The four raw CRM tables of a day, without `source_file` (it names the CRM read from)."""
    return {t: lake.read_df(catalog.raw(f"crm/{t}"), day).drop(columns=["source_file"]) for t in CRM_TABLES}


def assert_same_snapshot(expected: dict[str, pd.DataFrame], actual: dict[str, pd.DataFrame]) -> None:
    """Row for row and value for value (types, nulls, order, source_line, coercion notes)."""
    for table in CRM_TABLES:
        assert len(actual[table]) == len(expected[table]), table
        pd.testing.assert_frame_equal(actual[table], expected[table], obj=f"crm/{table}")
