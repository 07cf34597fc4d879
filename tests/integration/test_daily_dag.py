"""engagement_daily run for real with dag.test() on generated data: every task, end to end."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from include.scoring.core.sources import ALL_SOURCES
from include.scoring.lake import catalog
from include.scoring.lake.store import Lake
from include.scoring.publish.stage import init_crm
from tests.integration.airflow_helpers import load_dag, run_daily, task_states
from tests.integration.catchers import smtp_catcher

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


def test_daily_run_end_to_end(airflow_db, small_sample, settings_env, tmp_path, monkeypatch):
    sample = tmp_path / "sample"
    shutil.copytree(small_sample.out, sample)
    crm_url = f"sqlite:///{sample / 'crm.sqlite'}"
    settings = settings_env(sample, crm_url)
    init_crm(crm_url)
    day = small_sample.end
    with smtp_catcher() as caught:
        monkeypatch.setenv("ENGAGEMENT_SMTP_URL", f"smtp://127.0.0.1:{caught.port}?from=alerts@northwind.io")
        dagrun = run_daily(load_dag("engagement_daily"), day)
        states = task_states(dagrun)
        assert "success" in str(dagrun.state).lower(), states
        assert set(states.values()) == {"success"}, states
        lake = Lake(settings.lake)
        for source in ALL_SOURCES:
            assert lake.exists(catalog.raw(source), day), source
        for source in ("web", "email", "ad"):
            assert lake.row_count(catalog.raw(source), day) == landing_rows(
                sample / "landing" / source / day.isoformat()
            ), source
        assert lake.row_count(catalog.SCORES, day) == 40 and lake.exists(catalog.STATE, day)
        engine = sa.create_engine(settings.warehouse_url)
        with engine.connect() as conn:
            assert (
                conn.execute(
                    sa.text("SELECT COUNT(*) FROM account_score_history WHERE as_of = :d"), {"d": day}
                ).scalar()
                == 40
            )
            run = conn.execute(sa.text("SELECT reconciled, gate_status, crm_pushed FROM pipeline_runs")).one()
            sent = conn.execute(sa.text("SELECT COUNT(*) FROM score_alerts WHERE status = 'sent'")).scalar()
            recipients = conn.execute(
                sa.text("SELECT COUNT(DISTINCT recipient) FROM score_alerts WHERE status = 'sent'")
            ).scalar()
        engine.dispose()
        assert run.reconciled and run.gate_status == "no_history" and run.crm_pushed == 40
        assert sent > 0 and len(caught.wait(recipients)) == recipients
    crm = sa.create_engine(crm_url)
    with crm.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM accounts WHERE engagement_band IS NOT NULL")).scalar() == 40
    crm.dispose()
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        events = (
            session.query(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .filter(AssetModel.name == "engagement_account_scores")
            .all()
        )
        assert any(e.extra.get("day") == day.isoformat() and e.extra.get("accounts") == 40 for e in events)
