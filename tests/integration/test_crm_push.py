"""The CRM push through Salesforce and HubSpot (fakes of their APIs on loopback): exactly the
changed accounts, in batches of the documented size (Salesforce 200, HubSpot 100), a re-run
that sends nothing, records the CRM rejects reported and pushed again on the next run."""

from __future__ import annotations

import math
from datetime import timedelta

import pandas as pd
import pytest
import sqlalchemy as sa

from include.scoring.lake import catalog
from include.scoring.publish.stage import publish_warehouse, push_crm
from include.scoring.publish.warehouse import read_table
from tests.fakes.hubspot import FakeHubSpot
from tests.fakes.salesforce import FakeSalesforce
from tests.fakes.seed import crm_frames, hubspot_data, representable, salesforce_data
from tests.integration.crm_fixtures import DAY, crm_config

pytestmark = pytest.mark.integration
ACCOUNTS = 450
BATCH = {"salesforce": 200, "hubspot": 100}
FIELDS = {
    "salesforce": (
        "Engagement_Score__c",
        "Engagement_Band__c",
        "Engagement_Trend__c",
        "Engagement_Percentile__c",
        "Engagement_Health__c",
        "Engagement_Scored_At__c",
    ),
    "hubspot": (
        "engagement_score",
        "engagement_band",
        "engagement_trend",
        "engagement_percentile",
        "engagement_health",
        "engagement_scored_at",
    ),
}


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """450 accounts scored over three days (the CRM the scores came from does not matter here)."""
    from include.sample import generate
    from include.scoring.context import RunContext
    from include.scoring.core.settings import Settings
    from include.scoring.runner import STAGES, run_range

    out = tmp_path_factory.mktemp("push")
    sample = generate(out / "sample", accounts=ACCOUNTS, days=3, end_date=DAY, seed=5)
    settings = Settings(str(out / "sample" / "landing"), sample.crm_url, str(out / "lake"), "sqlite://", None)
    ctx = RunContext(settings)
    run_range(ctx, sample.start, DAY, stages=[s for s in STAGES if s.name != "publish"], echo=lambda _: None)
    return sample, ctx


def sent(fake, crm: str) -> list[list[str]]:
    """The account ids of each update call, in order."""
    if crm == "salesforce":
        return [[r["id"] for r in call.body["records"]] for call in fake.calls("PATCH", "/composite/sobjects")]
    return [[i["id"] for i in call.body["inputs"]] for call in fake.calls("POST", "/batch/update")]


def crm_values(fake, crm: str) -> pd.DataFrame:
    score, band, trend, percentile, health, at = FIELDS[crm]
    keys = (score, band, trend, percentile, health, at)
    if crm == "salesforce":
        rows = [(r["Id"], *(r.get(k) for k in keys)) for r in fake.records["Account"].values()]
    else:
        rows = [(i, *(r["properties"].get(k) for k in keys)) for i, r in fake.objects["companies"].items()]
    columns = ["account_id", "score", "band", "trend", "percentile", "health", "scored_at"]
    frame = pd.DataFrame(rows, columns=columns).set_index("account_id")
    frame["score"] = pd.to_numeric(frame["score"])
    frame["percentile"] = pd.to_numeric(frame["percentile"])
    return frame


def changed_between(lake, before, after) -> set[str]:
    """Accounts whose pushed values differ between two days' scores (worked out from the lake)."""
    a = lake.read_df(catalog.SCORES, before).set_index("account_id")
    b = lake.read_df(catalog.SCORES, after).set_index("account_id").reindex(a.index)
    differs = (a["score"].round(2) != b["score"].round(2)) | (a["band"] != b["band"]) | (a["trend"] != b["trend"])
    pct_a, pct_b = a["engagement_percentile"].round(0), b["engagement_percentile"].round(0)
    differs |= (pct_a != pct_b) & ~(pct_a.isna() & pct_b.isna())  # a whole point of percentile
    differs |= a["health"].fillna("-") != b["health"].fillna("-")
    return set(a.index[differs])


@pytest.mark.parametrize("crm", ["salesforce", "hubspot"])
def test_push_sends_exactly_the_changed_accounts_in_documented_batches(scored, crm, tmp_path):
    sample, ctx = scored
    frames = representable(crm_frames(sample.crm_url), crm)
    fake = salesforce_data(FakeSalesforce(), frames) if crm == "salesforce" else hubspot_data(FakeHubSpot(), frames)
    config, warehouse = crm_config(), f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    first, second, third = sample.start, sample.start + timedelta(days=1), DAY
    with fake:
        for day in (first, second):
            publish_warehouse(ctx.lake, ctx.config, warehouse, day)
        result = push_crm(ctx.lake, warehouse, fake.url, second, config)
        calls = sent(fake, crm)
        size = BATCH[crm]
        assert [len(c) for c in calls] == [size] * (ACCOUNTS // size) + ([ACCOUNTS % size] if ACCOUNTS % size else [])
        assert len(calls) == math.ceil(ACCOUNTS / size) > 1
        assert sorted(sum(calls, [])) == sorted(frames["accounts"]["account_id"])  # each account once
        assert (result.count("updated"), result.count("unchanged"), result.count("failed")) == (ACCOUNTS, 0, 0)
        scores = ctx.lake.read_df(catalog.SCORES, second).set_index("account_id")
        values = crm_values(fake, crm).reindex(scores.index)
        assert (values["score"] == scores["score"].round(2)).all() and (values["band"] == scores["band"]).all()
        assert (values["trend"] == scores["trend"]).all() and set(values["scored_at"]) == {second.isoformat()}
        pct = scores["engagement_percentile"].round(2)  # prospects have one, customers none (null, not NaN text)
        assert ((values["percentile"] == pct) | (values["percentile"].isna() & pct.isna())).all()
        assert (values["health"].fillna("-") == scores["health"].fillna("-")).all()

        again = push_crm(ctx.lake, warehouse, fake.url, second, config)  # nothing changed: nothing sent
        assert len(sent(fake, crm)) == len(calls)
        assert (again.count("updated"), again.count("unchanged")) == (0, ACCOUNTS)

        publish_warehouse(ctx.lake, ctx.config, warehouse, third)
        expected = changed_between(ctx.lake, second, third)
        assert 0 < len(expected) < ACCOUNTS
        rejected = sorted(expected)[:2]
        fake.reject = {rejected[0]: "Score field is locked for review", rejected[1]: "Value out of range"}
        result = push_crm(ctx.lake, warehouse, fake.url, third, config)
        new_calls = sent(fake, crm)[len(calls) :]
        assert sorted(sum(new_calls, [])) == sorted(expected)  # exactly the changed accounts
        assert all(len(c) <= size for c in new_calls) and len(new_calls) == math.ceil(len(expected) / size)
        assert (result.count("updated"), result.count("failed")) == (len(expected) - 2, 2)
        assert result.count("unchanged") == ACCOUNTS - len(expected)
        assert any(rejected[0] in w and "Score field is locked for review" in w for w in result.warnings)
        stored = crm_values(fake, crm)
        assert set(stored.loc[rejected, "scored_at"]) == {second.isoformat()}  # the rejected kept their old values
        runs = read_table(warehouse, sa.text("SELECT day, crm_pushed FROM pipeline_runs ORDER BY day"))
        assert runs["crm_pushed"].tolist()[-1] == len(expected) - 2

        fake.reject = {}
        retried = push_crm(ctx.lake, warehouse, fake.url, third, config)  # the next run pushes just those again
        assert sorted(sum(sent(fake, crm)[len(calls) + len(new_calls) :], [])) == rejected
        assert (retried.count("updated"), retried.count("failed")) == (2, 0)
        assert set(crm_values(fake, crm)["scored_at"]) == {second.isoformat(), third.isoformat()}
        assert all(r.headers.get("Authorization") == f"Bearer {fake.token}" for r in fake.requests)
