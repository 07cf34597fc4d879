"""engagement_daily run for real with dag.test(), the CRM on a fake Salesforce and on a fake
HubSpot (their APIs on loopback): every task succeeds, the day's CRM snapshot equals what the SQL
path extracts from the same data, and the push writes every scored account's fields."""

from __future__ import annotations

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
from tests.integration.crm_fixtures import assert_same_snapshot, snapshot, write_config

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("crm", ["salesforce", "hubspot"])
def test_daily_run_with_the_crm_behind_its_api(airflow_db, small_sample, settings_env, tmp_path, monkeypatch, crm):
    day = small_sample.end
    frames = representable(crm_frames(small_sample.crm_url), crm)
    same = Lake(str(tmp_path / "sql-lake"))
    extract_crm(write_sql_crm(f"sqlite:///{tmp_path / 'same.sqlite'}", frames), same, day)
    fake = salesforce_data(FakeSalesforce(), frames) if crm == "salesforce" else hubspot_data(FakeHubSpot(), frames)
    with fake, smtp_catcher() as caught:
        settings = settings_env(small_sample.out, fake.url)  # the shared sample's landing files, read only
        monkeypatch.setenv("ENGAGEMENT_CONFIG", str(write_config(tmp_path / "engagement.yaml")))
        monkeypatch.setenv("ENGAGEMENT_SMTP_URL", f"smtp://127.0.0.1:{caught.port}?from=alerts@northwind.io")
        dagrun = run_daily(load_dag("engagement_daily"), day)
    states = task_states(dagrun)
    assert "success" in str(dagrun.state).lower(), states
    assert set(states.values()) == {"success"}, states
    lake = Lake(settings.lake)
    assert_same_snapshot(snapshot(same, day), snapshot(lake, day))
    assert lake.exists(catalog.CRM_SYNC, day)
    scores = lake.read_df(catalog.SCORES, day).set_index("account_id")
    assert len(scores) == len(frames["accounts"]) == 40
    engine = sa.create_engine(settings.warehouse_url)
    with engine.connect() as conn:
        run = conn.execute(sa.text("SELECT reconciled, gate_status, crm_pushed FROM pipeline_runs")).one()
    engine.dispose()
    assert run.reconciled and run.crm_pushed == 40
    if crm == "salesforce":
        pushed = {i: r["Engagement_Score__c"] for i, r in fake.records["Account"].items()}
        updates = [len(c.body["records"]) for c in fake.calls("PATCH", "/composite/sobjects")]
    else:
        pushed = {i: float(r["properties"]["engagement_score"]) for i, r in fake.objects["companies"].items()}
        updates = [len(c.body["inputs"]) for c in fake.calls("POST", "/batch/update")]
    assert updates == [40]
    assert all(pushed[i] == round(s, 2) for i, s in scores["score"].items())
    assert all(fake.token not in str(r.headers.get("Host", "")) for r in fake.requests)
