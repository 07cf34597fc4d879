"""From engine arrays to what people read (SPEC 5): bands on the 2-decimal score, next actions,
trend labels, alerts once per upward crossing of 25 / 40 / 50, band changes."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from include.scoring.core.config import load_config
from include.scoring.score.engine import NO_TIME, day_ns
from include.scoring.score.outputs import (
    alert_changes,
    band_changes,
    band_codes,
    bands_of,
    change_table,
    next_action_codes,
    score_table,
    trend_codes,
)

CFG = load_config()
D = date(2026, 3, 2)


@pytest.mark.parametrize(
    ("score", "band"),
    [
        (0.0, "cold"),
        (10.0, "cold"),  # Cold 0-10
        (10.004, "cold"),  # rounds to 10.00
        (10.006, "warm"),  # rounds to 10.01: above 10
        (11.0, "warm"),
        (25.0, "warm"),  # Warm 11-25
        (25.004, "warm"),
        (25.01, "hot"),
        (26.0, "hot"),
        (50.0, "hot"),  # Hot 26-50
        (50.004, "hot"),
        (50.01, "very_hot"),
        (51.0, "very_hot"),
        (1000.0, "very_hot"),
    ],
)
def test_bands_at_their_edges_after_rounding_to_2_decimals(score, band):
    assert bands_of(np.array([score]), CFG).tolist() == [band]


def test_next_action_per_band_and_for_customers():
    codes, names = next_action_codes(np.array([0, 1, 2, 3, 3]), np.array([False, False, False, False, True]), CFG)
    assert [names[c] for c in codes] == [
        "nurture",
        "SDR light outreach",
        "AE handoff",
        "sales leader fast-track",
        "account management (owner)",  # a customer, whatever its band
    ]


def test_trend_is_flat_below_two_points_of_change():
    codes, names = trend_codes(np.array([2.0, 1.99, 0.0, -1.99, -2.0, 7.5]), CFG)
    assert [names[c] for c in codes] == ["up", "flat", "flat", "flat", "down", "up"]


# Alerts ---------------------------------------------------------------------------------------------------
ACCOUNTS = pd.DataFrame(
    {"account_id": ["A1", "A2", "A3"], "owner_email": ["own@x.io"] * 3, "sdr_email": ["sdr@x.io", "sdr@x.io", None]}
)
IDS = pa.array(["A1", "A2", "A3"])


def _alerts(before, after, customer=(False, False, False)) -> list[tuple]:
    table = alert_changes(IDS, ACCOUNTS, np.array(before, float), np.array(after, float), np.array(customer), D, CFG)
    if table is None:
        return []
    rows = table.to_pylist()  # nulls as None
    assert {r["kind"] for r in rows} == {"alert"}
    return sorted((r["account_id"], r["rule"], r["recipient"], r["audience"]) for r in rows)


def test_crossing_25_upward_notifies_the_sdr():
    # A1 reaches 25 exactly (not above: no alert); A2 goes 25 -> 25.01; A3 goes down
    assert _alerts([20, 25, 30], [25, 25.01, 20]) == [("A2", "threshold_25", "sdr@x.io", "sdr")]


def test_one_jump_over_every_threshold_fires_each_once():
    alerts = _alerts([20, 0, 0], [55, 0, 0])
    # 40 goes to the owner (the AE); the manager has no address in the default config
    assert alerts == [
        ("A1", "threshold_25", "sdr@x.io", "sdr"),
        ("A1", "threshold_40", "own@x.io", "owner"),
        ("A1", "threshold_50", None, "manager"),
    ]


def test_no_second_alert_while_above_and_again_after_falling_below():
    assert _alerts([20, 0, 0], [30, 0, 0]) == [("A1", "threshold_25", "sdr@x.io", "sdr")]
    assert _alerts([30, 0, 0], [35, 0, 0]) == []  # still above 25: the crossing was alerted already
    assert _alerts([35, 0, 0], [20, 0, 0]) == []  # falling is no alert
    assert _alerts([20, 0, 0], [30, 0, 0]) == [("A1", "threshold_25", "sdr@x.io", "sdr")]  # a new crossing


def test_customer_alerts_go_to_the_owner_and_a_missing_sdr_is_no_recipient():
    alerts = _alerts([0, 0, 0], [41, 0, 26], customer=(True, False, False))
    assert alerts == [
        ("A1", "threshold_25", "own@x.io", "owner"),
        ("A1", "threshold_40", "own@x.io", "owner"),
        ("A3", "threshold_25", None, "sdr"),
    ]


# Band changes and change rows -------------------------------------------------------------------------------
def test_band_changes_name_the_bands_before_and_after():
    before, after = np.array([10.0, 10.0, 30.0]), np.array([10.004, 11.0, 60.0])
    table = band_changes(IDS, before, after, band_codes(after, CFG), D, CFG).to_pandas()
    assert table[["account_id", "before", "after"]].values.tolist() == [
        ["A2", "cold", "warm"],
        ["A3", "hot", "very_hot"],
    ]
    assert table["score_after"].tolist() == [11.0, 60.0]
    same = np.array([1.0, 2.0, 3.0])
    assert band_changes(IDS, same, same, band_codes(same, CFG), D, CFG) is None


def test_change_rows_carry_2_decimal_text_and_the_numbers():
    table = change_table(pa.array(["A1"]), D, "reset", "idle_halving", np.array([10.0]), np.array([5.0])).to_pandas()
    row = table.iloc[0]
    assert (row["kind"], row["rule"], row["before"], row["after"]) == ("reset", "idle_halving", "10.00", "5.00")
    assert (row["score_before"], row["score_after"], row["as_of"]) == (10.0, 5.0, D)


def test_score_rows_band_trend_action_and_days_since_the_last_touch():
    n = 2
    static = {
        "account_id": pa.array(["A1", "A2"]),
        "owner_email": pa.array(["o@x.io", None], pa.string()),
        "sdr_email": pa.array([None, None], pa.string()),
        "lifecycle": pa.array(["prospect", "prospect"]),
        "account_name": pa.array(["Acme", "Koala"]),
        "abm_tier": pa.array([1, None], pa.int64()),
    }
    zeros = np.zeros(n)
    values = {
        "score": np.array([30.0, 0.0]),
        "accumulated": np.array([20.0, 0.0]),
        "breadth": np.array([10.0, 0.0]),
        "engaged_people": np.array([1, 0]),
        "new_people_14d": np.array([1, 0]),
        "points_today": zeros,
        "change_7d": np.array([-3.0, 0.0]),
        "change_28d": zeros,
        "surge": np.zeros(n, bool),
        "role_mask": np.array([0b001, 0]),  # A1: a decision maker engaged (bit 0 of buying_group.roles)
        "health": np.array([-1, 0]),  # A1 a prospect (no health), A2 a healthy customer
    }
    touch = np.array([day_ns(date(2026, 2, 27)) + 12 * 3600 * 10**9, NO_TIME])  # 3 days before D, and never
    signals = ["pricing_page_visit", "page_view"]
    table, band = score_table(D, CFG, static, values, np.array([False, True]), touch, np.array([0, -1]), signals)
    rows = table.to_pylist()
    assert band.tolist() == [2, 0]
    assert [r["band"] for r in rows] == ["hot", "cold"]
    assert [r["trend"] for r in rows] == ["down", "flat"]
    assert [r["next_action"] for r in rows] == ["AE handoff", "account management (owner)"]
    assert [r["lifecycle"] for r in rows] == ["prospect", "customer"]
    assert [r["days_since_engagement"] for r in rows] == [3, None]
    assert [r["last_touch_signal"] for r in rows] == ["pricing_page_visit", None]
    assert {r["config_version"] for r in rows} == {CFG.version}
    # the only prospect stands at the top; a customer has no percentile
    assert [r["engagement_percentile"] for r in rows] == [100.0, None]
    assert [r["buying_group_coverage"] for r in rows] == [round(1 / 3, 4), 0.0]
    assert [r["missing_roles"] for r in rows] == ["champion, influencer", "decision_maker, champion, influencer"]
    assert [r["health"] for r in rows] == [None, "healthy"]
