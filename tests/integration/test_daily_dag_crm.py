"""engagement_daily run for real with dag.test(), the CRM on a fake Salesforce and on a fake
HubSpot (their APIs on loopback): every task succeeds, the day's CRM snapshot equals what the SQL
path extracts from the same data, the next day's (incremental, or whole with the DAG param
crm_full_refresh) equals a full read, and the push writes every scored account's fields, then
only the changed ones."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from include.scoring.extract.stage import extract_crm
from include.scoring.lake import catalog
from include.scoring.lake.store import Lake
from tests.fakes.hubspot import FakeHubSpot
from tests.fakes.salesforce import FakeSalesforce
from tests.fakes.seed import crm_frames, hubspot_data, representable, salesforce_data, write_sql_crm
from tests.integration.airflow_helpers import load_dag, run_daily, task_states
from tests.integration.catchers import smtp_catcher
from tests.integration.crm_fixtures import assert_same_snapshot, crm_config, snapshot, write_config

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("crm", ["salesforce", "hubspot"])
def test_daily_run_with_the_crm_behind_its_api(airflow_db, small_sample, settings_env, tmp_path, monkeypatch, crm):
    """Two days: the first reads the CRM whole; the second reads what changed since (HubSpot) or,
    with the DAG param crm_full_refresh, everything again (Salesforce)."""
    first, day = small_sample.end - timedelta(days=1), small_sample.end
    frames = representable(crm_frames(small_sample.crm_url), crm)
    same = Lake(str(tmp_path / "sql-lake"))
    extract_crm(write_sql_crm(f"sqlite:///{tmp_path / 'same.sqlite'}", frames), same, first)
    fake = salesforce_data(FakeSalesforce(), frames) if crm == "salesforce" else hubspot_data(FakeHubSpot(), frames)
    full = crm == "salesforce"
    with fake, smtp_catcher() as caught:
        settings = settings_env(small_sample.out, fake.url)  # the shared sample's landing files, read only
        config = write_config(tmp_path / "engagement.yaml")
        monkeypatch.setenv("ENGAGEMENT_CONFIG", str(config))
        monkeypatch.setenv("ENGAGEMENT_SMTP_URL", f"smtp://127.0.0.1:{caught.port}?from=alerts@northwind.io")
        runs = [run_daily(load_dag("engagement_daily"), first)]
        lake = Lake(settings.lake)
        assert_same_snapshot(snapshot(same, first), snapshot(lake, first))  # before any push touched the CRM
        before = len(fake.requests)
        runs.append(run_daily(load_dag("engagement_daily"), day, run_conf={"crm_full_refresh": full}))
        second_day = fake.requests[before:]
        whole = Lake(str(tmp_path / "whole"))
        extract_crm(fake.url, whole, day, crm_config(), full_refresh=True)
    for dagrun in runs:
        states = task_states(dagrun)
        assert "success" in str(dagrun.state).lower(), states
        assert set(states.values()) == {"success"}, states
    if full:
        assert all("WHERE" not in r.query.get("q", "") for r in second_day)
    else:
        assert {r.path.split("/")[4] for r in second_day if r.path.endswith("/search")} == {
            "companies",
            "contacts",
            "calls",
            "meetings",
            "deals",
        }
    assert_same_snapshot(snapshot(whole, day), snapshot(lake, day))  # incremental or not, the same snapshot
    assert lake.exists(catalog.CRM_SYNC, day)
    scores = lake.read_df(catalog.SCORES, day).set_index("account_id")
    assert len(scores) == len(frames["accounts"]) == 40
    engine = sa.create_engine(settings.warehouse_url)
    with engine.connect() as conn:
        pushed_counts = [
            r.crm_pushed for r in conn.execute(sa.text("SELECT crm_pushed FROM pipeline_runs ORDER BY day"))
        ]
        reconciled = conn.execute(sa.text("SELECT MIN(reconciled) FROM pipeline_runs")).scalar()
    engine.dispose()
    assert reconciled and pushed_counts[0] == 40
    if crm == "salesforce":
        pushed = {i: r["Engagement_Score__c"] for i, r in fake.records["Account"].items()}
        updates = [len(c.body["records"]) for c in fake.calls("PATCH", "/composite/sobjects")]
    else:
        pushed = {i: float(r["properties"]["engagement_score"]) for i, r in fake.objects["companies"].items()}
        updates = [len(c.body["inputs"]) for c in fake.calls("POST", "/batch/update")]
    assert updates[0] == 40 and sum(updates) == sum(pushed_counts)  # then only what changed on the second day
    assert all(pushed[i] == round(s, 2) for i, s in scores["score"].items())
