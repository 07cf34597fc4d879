"""engagement_daily run for real with dag.test() on generated data."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from include.scoring.lake import Lake
from include.scoring.sources import ALL_SOURCES
from tests.integration.airflow_helpers import load_dag, run_daily, task_states

pytestmark = pytest.mark.integration


def landing_rows(folder: Path) -> int:
    """Records in a landing folder, counted independently of the extract code."""
    total = 0
    for path in folder.iterdir():
        if path.suffix == ".parquet":
            total += len(pd.read_parquet(path))
        elif path.suffix == ".csv":
            total += len(pd.read_csv(path, encoding="utf-8-sig"))
        elif path.suffix == ".jsonl":
            total += len(pd.read_json(path, lines=True))
    return total


def test_daily_run_extracts_every_source(airflow_db, small_sample, settings_env):
    settings = settings_env(small_sample.out)
    dag = load_dag("engagement_daily")
    day = small_sample.end
    dagrun = run_daily(dag, day)
    states = task_states(dagrun)
    assert str(dagrun.state) in ("success", "DagRunState.SUCCESS"), states
    assert all(state == "success" for task, state in states.items() if task.startswith("extract_")), states
    lake = Lake(settings.lake)
    for source in ALL_SOURCES:
        assert lake.exists(f"raw/{source}", day), source
    for source in ("web", "email", "ad"):
        assert lake.row_count(f"raw/{source}", day) == landing_rows(small_sample.out / "landing" / source / day.isoformat()), source
    web = lake.read_df("raw/web", day)
    assert len(web) > 0 and web["source_file"].str.startswith(f"web/{day.isoformat()}/").all()
    assert lake.row_count("raw/crm/accounts", day) == 40
    assert lake.exists("reference/ip_ranges", day) and lake.exists("reference/free_email_domains", day)
