"""The pure parts of the CRM connectors: URLs and their tokens, the request budget, value maps,
activity rules, and which accounts count as changed."""

from __future__ import annotations

import re
from datetime import date

import pandas as pd
import pytest

from include.scoring.core.config import load_config
from include.scoring.core.source_config import ActivityRule
from include.scoring.crm.api_client import CrmApiError, RequestBudget, parse_endpoint
from include.scoring.crm.base import PUSHED_FIELDS, changed_accounts, push_values
from include.scoring.crm.connector import connector_for, scheme_of
from include.scoring.crm.records import activity_types, first_present, get_path, map_values


@pytest.mark.parametrize(
    "url, base",
    [
        ("salesforce+https://00D!tok@acme.my.salesforce.com", "https://acme.my.salesforce.com"),
        ("hubspot+https://pat-na1-x@api.hubapi.com", "https://api.hubapi.com"),
        ("salesforce+http://tok@127.0.0.1:8123", "http://127.0.0.1:8123"),
        ("hubspot+http://tok@[::1]:9000", "http://[::1]:9000"),
        ("hubspot+http://tok@localhost:9000", "http://localhost:9000"),
    ],
)
def test_endpoints_keep_the_token_out_of_the_url(url, base):
    endpoint = parse_endpoint(url, scheme_of(url))
    assert endpoint.base_url == base and endpoint.token and endpoint.token not in endpoint.shown
    assert endpoint.token not in repr(endpoint)


@pytest.mark.parametrize(
    "url, message",
    [
        ("salesforce+http://tok@10.0.0.5:8080", "plain http to 10.0.0.5"),
        ("hubspot+http://tok@api.hubapi.com", "plain http to api.hubapi.com"),
        ("salesforce+https://acme.my.salesforce.com", "carries no access token"),
        ("salesforce+ftp://tok@acme.my.salesforce.com", "is not salesforce+https://TOKEN@HOST"),
    ],
)
def test_unsafe_or_incomplete_urls_are_refused(url, message):
    with pytest.raises(CrmApiError, match=re.escape(message)) as err:
        parse_endpoint(url, scheme_of(url))
    assert "tok@" not in str(err.value)


def test_the_scheme_names_the_connector():
    config = load_config()
    assert type(connector_for("sqlite://", config)).__name__ == "SqlCrm"
    for url, name in (
        ("salesforce+https://t@acme.my.salesforce.com", "SalesforceCrm"),
        ("hubspot+https://t@api.hubapi.com", "HubSpotCrm"),
    ):
        with connector_for(url, config) as crm:
            assert type(crm).__name__ == name and crm.incremental


def test_request_budget_waits_only_as_long_as_the_window_needs():
    now, slept = [0.0], []

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    budget = RequestBudget(3, 10.0, clock=lambda: now[0], sleep=sleep)
    for at in (0.0, 1.0, 2.0):
        now[0] = at
        budget.acquire()
    assert slept == []
    now[0] = 4.0
    budget.acquire()  # a fourth request within 10 s of the first waits until the first leaves the window
    assert slept == [6.0] and now[0] == 10.0
    now[0] = 25.0
    budget.acquire()
    assert slept == [6.0]


def test_value_maps_ignore_case_and_spaces_and_keep_unknown_values():
    mapping = {"Decision Maker": "decision_maker", "Champion": "champion"}
    assert map_values([" decision maker", "CHAMPION", "Gatekeeper", None, ""], mapping, "other") == [
        "decision_maker",
        "champion",
        "Gatekeeper",  # validation quarantines it, showing the value
        "other",
        "other",
    ]
    assert map_values(["Tier 2", 3, None], {"Tier 2": 2}) == [2, 3, None]


def test_first_matching_rule_types_an_activity():
    rules = [
        ActivityRule(
            object="meetings", when={"title": ".*demo.*", "outcome": "SCHEDULED"}, activity_type="demo_scheduled"
        ),
        ActivityRule(object="meetings", when={"outcome": "SCHEDULED"}, activity_type="meeting_scheduled"),
        ActivityRule(object="calls", when={"outcome": "COMPLETED"}, activity_type="call_completed"),
    ]
    records = [
        {"title": "Product DEMO", "outcome": "scheduled"},
        {"title": "Intro", "outcome": "SCHEDULED"},
        {"title": "Demo", "outcome": "CANCELED"},
        {"title": None, "outcome": None},
    ]
    assert activity_types(records, "meetings", rules) == ["demo_scheduled", "meeting_scheduled", None, None]
    assert activity_types([{"outcome": "COMPLETED"}], "calls", rules) == ["call_completed"]


def test_nested_fields_and_the_first_present_time():
    record = {"Owner": {"Email": "ae@acme.com"}, "Who": None, "A": "", "B": "2026-11-20"}
    assert get_path(record, "Owner.Email") == "ae@acme.com" and get_path(record, "Who.Type") is None
    assert first_present([record, {"A": "x"}], ["A", "B"]) == ["2026-11-20", "x"]


def test_changed_accounts_compare_rounded_scores_band_and_trend():
    scores = pd.DataFrame(
        {
            "account_id": ["a", "b", "c", "d", "e", "f", "g"],
            "score": [10.004, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0],
            "band": ["cold", "warm", "hot", "hot", "very_hot", "very_hot", "very_hot"],
            "trend": ["up", "flat", "up", "down", "up", "up", "up"],
            "engagement_percentile": [12.3, 40.0, 50.0, 60.0, 99.0, 80.4, 90.0],
            "health": [None, None, None, None, None, "at_risk", None],
        }
    )
    current = pd.DataFrame(
        {
            "account_id": ["a", "b", "c", "d", "x", "f", "g"],
            "cur_score": ["10.00", 20.0, 30.0, None, 1.0, 60.0, 70.0],  # HubSpot sends text, Salesforce numbers
            "cur_band": ["cold", "warm", "warm", "hot", "cold", "very_hot", "very_hot"],
            "cur_trend": ["up", "up", "up", "down", "up", "up", "up"],
            # a percentile is compared in whole points: 12.3 against 12 is no change, 90 against 88 is one
            "cur_percentile": ["12", 40.0, 50.0, 60.0, 1.0, 80.0, 88.0],
            "cur_health": [None, None, None, None, None, "healthy", None],  # both empty: the same
        }
    )
    changed, unchanged = changed_accounts(scores, current)
    assert changed["account_id"].tolist() == ["b", "c", "d", "f", "g"] and unchanged == 1  # e is not in the CRM
    values = push_values(changed, date(2026, 11, 20))
    assert list(values.columns) == ["account_id", *[f.key for f in PUSHED_FIELDS]]
    assert values["scored_at"].unique().tolist() == ["2026-11-20"] and values["score"].tolist() == [
        20.0,
        30.0,
        40.0,
        60.0,
        70.0,
    ]
