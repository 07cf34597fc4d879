"""Validation over generated data: conservation, every injected defect quarantined, and a broken
batch failing the Airflow run at its validate task with an actionable message."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest

from include.sample import generate
from include.scoring.context import RunContext
from include.scoring.core.settings import Settings
from include.scoring.core.sources import ALL_SOURCES, EVENT_SOURCES
from include.scoring.lake import catalog
from include.scoring.lake.store import Lake, days_between
from include.scoring.runner import STAGES, run_range
from tests.integration.airflow_helpers import load_dag, run_daily, task_states

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def defect_sample(tmp_path_factory):
    out = tmp_path_factory.mktemp("defects")
    summary = generate(
        out / "sample", accounts=80, days=6, end_date=date(2026, 9, 10), seed=11, bad_rows=0.01, volume=2.0
    )
    settings = Settings(
        landing=str(out / "sample" / "landing"),
        crm_url=summary.crm_url,
        lake=str(out / "lake"),
        warehouse_url=f"sqlite:///{out / 'wh.sqlite'}",
        config_path=None,
    )
    ctx = RunContext(settings)
    stages = [s for s in STAGES if s.name in ("extract", "validate")]
    run_range(ctx, summary.start, summary.end, stages=stages, echo=lambda _: None)
    return summary, ctx


def test_conservation_every_day_and_source(defect_sample):
    summary, ctx = defect_sample
    lake: Lake = ctx.lake
    for day in days_between(summary.start, summary.end):
        for source in ALL_SOURCES:
            raw = lake.row_count(catalog.raw(source), day)
            valid = lake.row_count(catalog.valid(source), day)
            quarantined = lake.row_count(catalog.quarantine(source), day)
            assert raw == valid + quarantined, (source, day, raw, valid, quarantined)
            assert raw > 0 or source == "email", (source, day)


def test_every_injected_defect_is_quarantined(defect_sample):
    summary, ctx = defect_sample
    lake: Lake = ctx.lake
    assert sum(summary.defects.values()) > 15
    quarantined = {s: 0 for s in EVENT_SOURCES}
    for day in days_between(summary.start, summary.end):
        for source in EVENT_SOURCES:
            quarantined[source] += lake.row_count(catalog.quarantine(source), day)
    for source in EVENT_SOURCES:
        injected = sum(
            v for k, v in summary.defects.items() if k.startswith(f"{source}.") and k != "web.broken_file_lines"
        )
        broken = 2 if source == "web" else 0  # the broken file's truncated record and its non-JSON line
        assert quarantined[source] == injected + broken, (source, quarantined[source], injected)


def test_broken_file_lines_are_quarantined_with_their_reason(defect_sample):
    summary, ctx = defect_sample
    broken_day = [d for d in days_between(summary.start, summary.end)][3]
    q = ctx.lake.read_df(catalog.quarantine("web"), broken_day)
    retry = q[q["source_file"].str.endswith("web-events-retry.jsonl")]
    assert sorted(retry["source_line"]) == [2, 3]
    assert (retry["failed_checks"].str.contains("readable_values")).all()
    assert retry["coercion_errors"].str.contains("not valid JSON").all()
    valid = ctx.lake.read_df(catalog.valid("web"), broken_day)
    assert (valid["source_file"].str.endswith("web-events-retry.jsonl")).sum() == 1


def test_crm_snapshot_validation_is_reused_when_unchanged(defect_sample):
    summary, ctx = defect_sample
    second = days_between(summary.start, summary.end)[1]
    doc = json.loads(ctx.lake.read_side_file(catalog.validation("crm/contacts"), second, "summary.json"))
    assert doc["reused_from"] == summary.start.isoformat() and doc["day"] == second.isoformat()


def test_broken_batch_fails_its_validate_task(airflow_db, small_sample, settings_env, tmp_path, capfd):
    import shutil

    sample = tmp_path / "sample"
    shutil.copytree(small_sample.out, sample)
    day = small_sample.end
    settings = settings_env(sample)
    folder = sample / "landing" / "ad" / day.isoformat()
    for path in folder.iterdir():
        path.unlink()
    rows = [
        {
            "event_id": f"a-{i}",
            "event_time": f"{day}T10:00:00Z",
            "platform": "tiktok" if i % 2 else "linkedin",
            "campaign_id": "c",
            "ad_id": None,
            "event_type": "impression",
            "company_domain": None,
            "company_name": "Acme",
            "anonymous_id": None,
            "email": None,
            "ip": None,
            "cost": 0.1,
        }
        for i in range(40)
    ]
    pd.DataFrame(rows).to_csv(folder / "ads-broken.csv", index=False)
    dag = load_dag("engagement_daily")
    dagrun = run_daily(dag, day)
    states = task_states(dagrun)
    assert states["validate_ad"] == "failed", states
    assert (
        states["validate_web"] == "success"
        and states["validate_email"] == "success"
        and states["validate_crm"] == "success"
    )
    assert "success" not in str(dagrun.state).lower()
    lake = Lake(settings.lake)
    assert not lake.exists(catalog.valid("ad"), day)
    assert lake.row_count(catalog.quarantine("ad"), day) == 20
    output = capfd.readouterr()
    text = output.out + output.err
    assert "Validation failed for source ad, day" in text
    assert "platform_known" in text and "ads-broken.csv (40 rows, 20 bad)" in text and "What to do" in text
