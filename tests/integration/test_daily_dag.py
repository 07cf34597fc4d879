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


def test_daily_run_with_sharded_validation(airflow_db, small_sample, settings_env, tmp_path, monkeypatch):
    """`scale.shards: 3`: validate_<source>_shard runs once per shard, validate_<source> combines,
    and the day's valid and quarantined rows account for every raw row."""
    import yaml

    from include.scoring.core.config import DEFAULT_CONFIG_PATH

    sample = tmp_path / "sample"
    shutil.copytree(small_sample.out, sample)
    crm_url = f"sqlite:///{sample / 'crm.sqlite'}"
    settings = settings_env(sample, crm_url)
    init_crm(crm_url)
    raw = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8"))
    raw["scale"]["shards"] = 3
    config = tmp_path / "engagement.yaml"
    config.write_text(yaml.safe_dump(raw), encoding="utf-8")
    monkeypatch.setenv("ENGAGEMENT_CONFIG", str(config))
    day = small_sample.end
    dagrun = run_daily(load_dag("engagement_daily"), day)
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        tis = session.query(TaskInstance).filter(TaskInstance.run_id == dagrun.run_id).all()
        shards = sorted((ti.task_id, ti.map_index) for ti in tis if ti.task_id.endswith("_shard"))
        states = {(ti.task_id, ti.map_index): str(getattr(ti.state, "value", ti.state)) for ti in tis}
    assert set(states.values()) == {"success"}, states
    assert shards == [(f"validate_{s}_shard", k) for s in ("ad", "email", "web") for k in range(3)]
    lake = Lake(settings.lake)
    for source in ("web", "email", "ad"):
        assert sorted(p.name for p in Path(lake.partition_path(catalog.valid(source), day)).iterdir()) == [
            f"part-0000{k}-of-00003.parquet" for k in range(3)
        ]
        raw_rows = lake.row_count(catalog.raw(source), day)
        assert raw_rows == lake.row_count(catalog.valid(source), day) + lake.row_count(catalog.quarantine(source), day)
        summary = lake.read_side_file(catalog.validation(source), day, "summary.json")
        assert f'"rows": {raw_rows},' in summary.decode()
    assert lake.row_count(catalog.SCORES, day) == 40
