"""The summary's publish lines: a day the quality gate held prints its reasons as written
(the stage joins them into one string; the summary printed that string letter by letter)."""

from __future__ import annotations

from datetime import date

from include.scoring.cli.summary import publish_lines
from include.scoring.context import RunContext
from include.scoring.core.results import StageResult
from include.scoring.core.settings import Settings
from include.scoring.runner import RangeReport

DAY = date(2026, 6, 14)
REASONS = "volume: web has 6 valid events, 26% of its median 23 on the trailing days (allowed 30%-500%)"


def _published(day: date, gate: str, reasons: str) -> StageResult:
    return StageResult(
        "publish",
        "warehouse",
        day,
        counts={"accounts": 3, "alerts_new": 1, "resets": 0},
        details={"gate": gate, "gate_reasons": reasons, "ledger": "balanced"},
    )


def _context(tmp_path) -> RunContext:
    return RunContext(
        Settings(
            landing=str(tmp_path), crm_url="sqlite://", lake=str(tmp_path), warehouse_url="sqlite://", config_path=None
        )
    )


def test_a_held_day_prints_its_reasons_once_as_written(tmp_path):
    ctx = _context(tmp_path)
    results = [_published(date(2026, 6, 13), "passed", ""), _published(DAY, "held", REASONS)]
    lines = publish_lines(ctx, RangeReport(DAY, DAY, 2, per_stage={"publish": results}))
    assert "  quality gate: HELD on 1 day(s)" in lines
    assert f"    {DAY}: {REASONS}" in lines
    assert not any("; o; l" in line for line in lines)


def test_a_held_day_without_reasons_says_so(tmp_path):
    ctx = _context(tmp_path)
    lines = publish_lines(ctx, RangeReport(DAY, DAY, 1, per_stage={"publish": [_published(DAY, "held", "")]}))
    assert f"    {DAY}: (no reason recorded)" in lines
