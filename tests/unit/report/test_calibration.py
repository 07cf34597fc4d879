"""Calibration report building blocks on small hand-made data: months, point-in-time labels (no
leakage), thresholds, intervals, and the suggested config's diff."""

from __future__ import annotations

from datetime import UTC, date

import pandas as pd
import pytest
import yaml

from include.scoring.core.config import load_config, parse_config
from include.scoring.core.errors import UsageError
from include.scoring.report.data import label_rows
from include.scoring.report.metrics import conversion_by_band, thresholds
from include.scoring.report.months import latest_closed_month, parse_month, previous_month
from include.scoring.report.suggest import config_texts, nearest_tier, suggested_config

CONFIG = load_config()


def test_months():
    assert parse_month("2026-02") == (date(2026, 2, 1), date(2026, 2, 28))
    assert parse_month("2024-12") == (date(2024, 12, 1), date(2024, 12, 31))
    assert previous_month("2026-01") == "2025-12"
    for bad in ("2026-13", "2026-1", "26-01", "october", ""):
        with pytest.raises(UsageError, match="YYYY-MM"):
            parse_month(bad)


def test_latest_closed_month_is_whole_and_every_window_closed():
    # 180 days ending 2026-12-02: August's last window closes 2026-11-29, September's only 2026-12-29
    assert latest_closed_month(date(2026, 6, 6), date(2026, 12, 2), 90) == "2026-08"
    assert latest_closed_month(date(2026, 6, 6), date(2026, 11, 28), 90) == "2026-07"
    assert latest_closed_month(date(2026, 6, 6), date(2026, 11, 29), 90) == "2026-08"
    assert latest_closed_month(date(2026, 8, 2), date(2026, 12, 2), 90) is None  # August not whole
    assert latest_closed_month(date(2026, 7, 24), date(2026, 11, 20), 90) is None  # the 120-day test sample


def _scores(days: list[date], account: str = "A", lifecycle: str = "prospect") -> pd.DataFrame:
    return pd.DataFrame({"account_id": account, "as_of": days, "score": 30.0, "band": "hot", "lifecycle": lifecycle})


def test_labels_are_point_in_time_and_open_windows_stay_apart():
    days = [date(2026, 8, d) for d in range(1, 32)]
    opps = pd.DataFrame(
        {
            "opportunity_id": ["O1"],
            "account_id": ["A"],
            "created_day": [date(2026, 8, 20)],
            "won_day": [date(2026, 9, 10)],
        }
    )
    rows, won, created = label_rows(_scores(days), opps, window_days=30, report_date=date(2026, 9, 25))
    by_day = rows.set_index("as_of")
    # labelled: the window (D, D + 30] has closed by 2026-09-25, i.e. D <= 2026-08-26
    assert by_day["labelled"].to_dict() == {d: d <= date(2026, 8, 26) for d in days}
    # won within the window: 2026-09-10 - 30 days <= D < 2026-09-10; the day of the outcome never predicts itself
    assert {d for d in days if by_day.loc[d, "won"]} == {d for d in days if date(2026, 8, 11) <= d <= date(2026, 8, 26)}
    assert {d for d in days if by_day.loc[d, "created"]} == {d for d in days if d < date(2026, 8, 20)}
    # open rows are never negatives: they carry what is known so far, apart
    assert not by_day.loc[date(2026, 8, 30), "won"] and by_day.loc[date(2026, 8, 30), "won_so_far"]
    assert (won, created) == (1, 1)


def test_outcomes_after_the_report_date_and_customers_do_not_count():
    days = [date(2026, 8, d) for d in range(1, 11)]
    opps = pd.DataFrame(
        {"opportunity_id": ["O1"], "account_id": ["A"], "created_day": [None], "won_day": [date(2026, 10, 1)]}
    )
    rows, won, _ = label_rows(_scores(days), opps, window_days=90, report_date=date(2026, 9, 30))
    assert won == 0 and rows["won"].sum() == 0 and not rows["won_so_far"].any()
    rows, _, _ = label_rows(_scores(days, lifecycle="customer"), opps, window_days=10, report_date=date(2026, 12, 31))
    assert rows.empty


def test_thresholds_and_wilson_intervals():
    labelled = pd.DataFrame(
        {
            "account_id": list("ABCDEFGH"),
            "band": ["cold"] * 4 + ["very_hot"] * 4,
            "score": [5, 8, 12, 30, 45, 55, 60, 80],
            "won": [0, 0, 0, 0, 0, 1, 1, 1],
            "created": [0, 0, 1, 0, 1, 1, 1, 1],
        }
    )
    result = thresholds(labelled, CONFIG)
    at50 = next(t for t in result["alerts"] if t["threshold"] == 50)
    assert (at50["precision"], at50["recall"], at50["flagged_account_days"]) == (1.0, 1.0, 3)
    at25 = next(t for t in result["alerts"] if t["threshold"] == 25)
    assert at25["precision"] == pytest.approx(3 / 5) and at25["recall"] == 1.0
    assert result["suggested"]["f1"] == 1.0 and 45 <= result["suggested"]["threshold"] < 55
    conv = {c["band"]: c for c in conversion_by_band(labelled, CONFIG)}
    assert conv["very_hot"]["won"]["accounts"] == 3 and conv["very_hot"]["won"]["rate"] == 0.75
    assert 0 < conv["very_hot"]["won"]["ci_low"] < 0.75 < conv["very_hot"]["won"]["ci_high"] < 1
    assert conv["warm"]["accounts"] == 0 and conv["warm"]["won"]["rate"] is None


def test_suggested_config_is_valid_and_its_diff_patches_the_config_file():
    assert (
        nearest_tier(7.6, CONFIG) == 1
        and nearest_tier(7.4, CONFIG) == 2
        and nearest_tier(0.4, CONFIG) == 0
        and nearest_tier(0.6, CONFIG) == 3
    )
    changes = {"email_open": 0, "page_view": 2, "demo_request": 2}
    candidate = suggested_config(CONFIG, changes, "2026.11-default-suggested-2026-08")
    text, diff = config_texts(None, CONFIG, candidate, changes)
    assert parse_config(yaml.safe_load(text), "suggested") == candidate
    removed = [line for line in diff.splitlines() if line.startswith("-") and not line.startswith("---")]
    added = [line for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert len(removed) == len(added) == 5  # the version and four rules (demo_request has a web and a CRM rule)
    assert "# Account engagement scoring" in text  # the file's comments are kept
    assert candidate.signal_points()["email_open"] == 0 and candidate.signal_points()["demo_request"] == 5
    moved = CONFIG.model_copy(
        update={"breadth": CONFIG.breadth.model_copy(update={"max_people": 4})}
    )  # not the file any more
    text, diff = config_texts(None, moved, suggested_config(moved, changes, "x"), changes)
    assert "max_people" not in diff and "+  - {name: email_open, tier: 0" in diff
    assert parse_config(yaml.safe_load(text), "suggested").breadth.max_people == 4


def test_the_month_a_dag_run_reports_on():
    from datetime import datetime
    from types import SimpleNamespace

    from include.airflow_glue.calibration import report_month

    scheduled = SimpleNamespace(run_after=datetime(2026, 12, 2, 6, tzinfo=UTC))
    assert report_month({"params": {"month": ""}, "dag_run": scheduled}) == "2026-11"
    assert report_month({"params": {"month": "2026-08"}, "dag_run": scheduled}) == "2026-08"
    assert (
        report_month({"params": {}, "dag_run": SimpleNamespace(run_after=datetime(2027, 1, 1, 9, tzinfo=UTC))})
        == "2026-12"
    )
    with pytest.raises(UsageError, match="YYYY-MM"):
        report_month({"params": {"month": "2026-8"}, "dag_run": scheduled})
