"""Identity resolution on the default sample against the generator's ground truth."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from include.scoring.lake import catalog
from include.scoring.lake.store import days_between
from include.scoring.resolve.evaluate import evaluate_resolution

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def test_precision_and_recall_against_ground_truth(default_run):
    summary, ctx, _ = default_run
    ev = evaluate_resolution(ctx.lake, ctx.settings.truth, summary.start, summary.end)
    # enough attributions that the 0.5% of wrong ones precision allows would be a couple of hundred
    assert ev.attached > 30_000
    assert ev.precision >= 0.995, "\n".join(ev.lines() + ev.wrong_examples)
    assert ev.recall >= 0.97, "\n".join(ev.lines())
    assert ev.precision < 1.0  # the sample holds households the rules cannot tell apart: the check can fail


def test_conservation_valid_equals_resolved_unresolved_filtered(default_run):
    summary, ctx, report = default_run
    results = {r.day: r for r in report.per_stage["resolve"]}
    lake = ctx.lake
    for day in days_between(summary.start, summary.end):
        events = sum(lake.row_count(catalog.valid(s), day) for s in ("web", "email", "ad"))
        crm_events = results[day].count("events") - events
        assert crm_events >= 0
        accounted = (
            lake.row_count(catalog.RESOLVED, day)
            + lake.row_count(catalog.UNRESOLVED, day)
            + lake.row_count(catalog.FILTERED, day)
        )
        assert accounted == results[day].count("events"), day
    assert sum(r.breakdowns["filtered_by_reason"].get("machine_open", 0) for r in results.values()) > 0
    assert sum(r.breakdowns["filtered_by_reason"].get("scanner_click", 0) for r in results.values()) > 0
    assert sum(r.breakdowns["filtered_by_reason"].get("bot", 0) for r in results.values()) > 0
    assert sum(r.breakdowns["firings"].get("shared_device", 0) for r in results.values()) > 0


def test_resolve_cli_prints_precision_and_recall(default_run):
    summary, ctx, _ = default_run
    s = ctx.settings
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "include.scoring",
            "resolve",
            "--date",
            summary.end.isoformat(),
            "--landing",
            s.landing,
            "--crm-url",
            s.crm_url,
            "--lake",
            s.lake,
            "--warehouse-url",
            s.warehouse_url,
            "--evaluate-against",
            s.truth,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    assert "precision" in out.stdout and "recall" in out.stdout
    line = next(x for x in out.stdout.splitlines() if x.strip().startswith("precision"))
    assert float(line.split()[1]) >= 0.995
