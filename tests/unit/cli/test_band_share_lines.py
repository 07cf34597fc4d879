"""The demo summary's band table and its stationarity line (issue 19: the Very Hot share on the first
day after the accumulation window filled and on the last day, side by side)."""

from __future__ import annotations

from datetime import date, timedelta

from include.scoring.cli.summary import band_share_lines
from include.scoring.core.results import StageResult
from include.scoring.runner import RangeReport

START = date(2026, 6, 1)


def _report(days: int, very_hot_on) -> RangeReport:
    results = [
        StageResult(
            "score",
            "all",
            START + timedelta(days=i),
            breakdowns={"prospects_per_band": {"cold": 50, "warm": 30, "hot": 10, "very_hot": very_hot_on(i)}},
        )
        for i in range(days)
    ]
    return RangeReport(START, START + timedelta(days=days - 1), days, per_stage={"score": results})


def test_a_row_per_month_on_its_last_scored_day_with_the_top_share():
    lines = band_share_lines(_report(61, lambda i: 10), window_days=None)
    rows = [line.split() for line in lines if line[:4] == "2026"]
    assert [r[0] for r in rows] == ["2026-06-30", "2026-07-31"]
    assert rows[0][1:] == ["50", "30", "10", "10", "10%"]
    assert not any("points apart" in line for line in lines)  # no window: nothing to compare


def test_the_top_share_after_the_window_filled_and_on_the_last_day():
    # 10 of 100 prospects Very Hot until the window fills on day 30, then 20 of 110
    lines = band_share_lines(_report(45, lambda i: 10 if i <= 30 else 20), window_days=30)
    assert lines[-1] == (
        "Very hot share on 2026-07-01 (the first day after the 30-day window filled) 10.0%, "
        "on 2026-07-15 18.2%: 8.2 points apart"
    )


def test_no_comparison_when_the_run_is_shorter_than_the_window():
    lines = band_share_lines(_report(20, lambda i: 10), window_days=30)
    assert lines and not any("points apart" in line for line in lines)
