"""The Salesforce connector against a fake Salesforce REST API on loopback (tests/fakes).

The fake holds the same CRM data as a SQL CRM: the day's snapshot read through the REST API must
equal, row for row, what the SQL path extracts. Paging, a rate limit and a 5xx mid-way, an expired
token, the retry budget, links off the configured host, incremental reads and init-crm.
"""

from __future__ import annotations

import logging
import math
from datetime import timedelta

import pytest

from include.scoring.cli.main import main
from include.scoring.core.contracts import CRM_TABLES
from include.scoring.core.errors import PipelineError
from include.scoring.extract.stage import extract_crm
from include.scoring.lake import catalog
from include.scoring.lake.store import Lake
from include.scoring.publish.stage import CrmNotInitialized, init_crm
from tests.fakes.salesforce import FakeSalesforce, error, sf_time
from tests.fakes.seed import SF_NOISE, crm_frames, representable, salesforce_data, write_sql_crm
from tests.integration.crm_fixtures import DAY, assert_same_snapshot, crm_config, snapshot, write_config

pytestmark = pytest.mark.integration
PAGE = 7  # the fake's page size: every object spans several pages
OBJECTS = ("Account", "Contact", "Task", "Event", "Opportunity")


@pytest.fixture(scope="module")
def crm_data(tmp_path_factory):
    """A generated CRM as Salesforce can hold it, and the SQL path's snapshot of it."""
    from include.sample import generate

    out = tmp_path_factory.mktemp("sf")
    sample = generate(out / "sample", accounts=60, days=45, end_date=DAY, seed=11)
    frames = representable(crm_frames(sample.crm_url), "salesforce")
    sql_url = write_sql_crm(f"sqlite:///{out / 'same.sqlite'}", frames)
    lake = Lake(str(out / "sql-lake"))
    extract_crm(sql_url, lake, DAY)
    return frames, snapshot(lake)


@pytest.fixture
def fake(crm_data):
    frames, _ = crm_data
    with salesforce_data(FakeSalesforce(max_page=PAGE), frames) as api:
        yield api


def test_snapshot_equals_the_sql_path_row_for_row(crm_data, fake, tmp_path):
    frames, expected = crm_data
    assert {"Call", "Meeting", "Demo Scheduled", "Proposal"} <= {r["Type"] for r in fake.records["Task"].values()} | {
        r["Type"] for r in fake.records["Event"].values()
    }
    lake = Lake(str(tmp_path / "lake"))
    results = {r.unit: r for r in extract_crm(fake.url, lake, DAY, crm_config())}
    assert_same_snapshot(expected, snapshot(lake))
    assert {unit: r.count("rows") for unit, r in results.items()} == {f"crm/{t}": len(frames[t]) for t in CRM_TABLES}
    activities = results["crm/activities"]
    assert activities.count("skipped") == SF_NOISE
    assert activities.warnings == [
        f"{SF_NOISE} Task matching no activity rule (TaskSubtype='Email', Type='Email'): "
        "not part of the activities snapshot"
    ]
    first_pages = fake.calls("GET", "/services/data/v60.0/query")
    assert sorted(r.query["q"].split(" FROM ")[1].split()[0] for r in first_pages if r.path.endswith("/query")) == (
        sorted(OBJECTS)
    )
    pages = {obj: max(1, math.ceil(len(fake.records[obj]) / PAGE)) for obj in OBJECTS}
    assert len(first_pages) == sum(pages.values()) > len(OBJECTS)  # every query followed nextRecordsUrl to `done`
    assert all(r.headers["Authorization"] == f"Bearer {fake.token}" for r in fake.requests)
    assert sum(r.count("api_calls") for r in results.values()) == len(fake.requests)
    assert all(r.details == {"crm": "salesforce", "mode": "full"} for r in results.values())


def test_rate_limit_and_server_error_mid_way_are_retried(crm_data, fake, tmp_path, caplog):
    _, expected = crm_data
    fake.fail("GET", "/query/", 403, error("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."), skip=1)
    fake.fail("GET", "/query/", 503, error("SERVER_UNAVAILABLE", "try again"), skip=4)
    lake = Lake(str(tmp_path / "lake"))
    pages = sum(max(1, math.ceil(len(fake.records[obj]) / PAGE)) for obj in OBJECTS)
    with caplog.at_level(logging.DEBUG):  # every library's debug output too: the token never shows
        extract_crm(fake.url, lake, DAY, crm_config())
    assert_same_snapshot(expected, snapshot(lake))
    assert len(fake.requests) == pages + 2  # each refused page asked again once, nothing else repeated
    assert "rate limited (403 REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded.)" in caplog.text
    assert "server error 503 SERVER_UNAVAILABLE: try again" in caplog.text
    assert fake.token not in caplog.text


def test_expired_token_is_a_clear_error_and_not_retried(fake, tmp_path):
    right = fake.token
    fake.token = "00Dfake!another-session"  # the org no longer accepts ours
    lake = Lake(str(tmp_path / "lake"))
    with pytest.raises(PipelineError) as err:
        extract_crm(fake.url.replace(fake.token, right), lake, DAY, crm_config())
    text = str(err.value)
    assert text.startswith(f"salesforce at salesforce+http://***@127.0.0.1:{fake.port}")
    assert text.endswith(f"(CRM snapshot of {DAY})")
    assert "refused the access token (401 INVALID_SESSION_ID: Session expired or invalid)" in text
    assert "expired or been revoked" in text and "Get a new access token" in text
    assert right not in text and len(fake.requests) == 1
    assert not lake.exists(catalog.raw("crm/accounts"), DAY)


def test_server_errors_beyond_the_retry_budget_fail_and_write_nothing(fake, tmp_path):
    fake.fail("GET", "/query", 500, error("UNKNOWN_EXCEPTION", "An unexpected error occurred."), times=10_000)
    lake = Lake(str(tmp_path / "lake"))
    config = crm_config(http={"backoff_seconds": 0.02, "max_backoff_seconds": 0.02, "retry_budget_seconds": 0.11})
    with pytest.raises(PipelineError) as err:
        extract_crm(fake.url, lake, DAY, config)
    text = str(err.value)
    assert "kept failing (server error 500 UNKNOWN_EXCEPTION: An unexpected error occurred.)" in text
    assert "within the 0.11 s retry budget (crm.http.retry_budget_seconds)" in text
    assert len(fake.requests) == 1 + 5  # the first try and the retries whose waits fit in the budget
    assert not any(lake.exists(catalog.raw(f"crm/{t}"), DAY) for t in CRM_TABLES)


def test_plain_http_off_loopback_and_links_to_other_hosts_are_refused(fake, tmp_path):
    lake = Lake(str(tmp_path / "lake"))
    with pytest.raises(PipelineError) as err:
        extract_crm("salesforce+http://SECRET-TOKEN@na1.example.com", lake, DAY, crm_config())
    assert "plain http to na1.example.com" in str(err.value) and "Nothing was sent" in str(err.value)
    assert "SECRET-TOKEN" not in str(err.value)
    foreign = "https://collector.example.net/services/data/v60.0/query/01gX-2000"
    fake.fail("GET", "/query", 200, {"totalSize": 9, "done": False, "records": [], "nextRecordsUrl": foreign})
    with pytest.raises(PipelineError, match="returned a paging link to collector.example.net"):
        extract_crm(fake.url, lake, DAY, crm_config())
    assert len(fake.requests) == 1


def test_incremental_read_merges_what_changed_into_the_last_snapshot(fake, tmp_path):
    config = crm_config(overlap_minutes=0)  # exact counts: no re-reading of the minutes before the mark
    lake = Lake(str(tmp_path / "lake"))
    extract_crm(fake.url, lake, DAY, config)
    nxt = DAY + timedelta(days=1)
    later = sf_time(f"{nxt}T09:00:00Z")
    account = fake.records["Account"]["ACC-000002"]
    account.update(Name="Renamed Holdings", LastModifiedDate=later)
    contact = next(iter(fake.records["Contact"].values()))
    fake.add(
        "Contact", [{**contact, "Id": "CON-NEW0001", "Email": "new.person@example.org", "LastModifiedDate": later}]
    )
    task = next(iter(fake.records["Task"].values()))
    fake.add("Task", [{**task, "Id": "00TNEW0001", "Type": "Pricing", "LastModifiedDate": later}])
    before = len(fake.requests)
    results = {r.unit: r for r in extract_crm(fake.url, lake, nxt, config)}
    incremental = fake.requests[before:]
    assert all("WHERE LastModifiedDate > " in r.query["q"] for r in incremental if r.path.endswith("/query"))
    assert len(incremental) == len(OBJECTS)  # one page per object: only the changed records came back
    assert {u: r.count("changed") for u, r in results.items()} == {
        "crm/accounts": 1,
        "crm/contacts": 1,
        "crm/activities": 1,
        "crm/opportunities": 0,
    }
    assert all(r.details["mode"] == "incremental" for r in results.values())
    full = Lake(str(tmp_path / "full"))
    extract_crm(fake.url, full, nxt, config, full_refresh=True)  # on demand: everything, no WHERE
    assert all("WHERE" not in r.query.get("q", "") for r in fake.requests[before + len(incremental) :])
    merged, whole = snapshot(lake, nxt), snapshot(full, nxt)
    assert_same_snapshot(whole, merged)
    assert "Renamed Holdings" in set(merged["accounts"]["name"]) and "CON-NEW0001" in set(
        merged["contacts"]["contact_id"]
    )
    week_on = DAY + timedelta(days=config.crm.full_refresh_days)
    before = len(fake.requests)
    assert all(r.details["mode"] == "full" for r in extract_crm(fake.url, lake, week_on, config))
    assert all("WHERE" not in r.query.get("q", "") for r in fake.requests[before:])


def test_init_crm_says_which_fields_to_create(fake, tmp_path, capsys):
    config_path = write_config(tmp_path / "engagement.yaml")
    args = ["init-crm", "--crm-url", fake.url, "--config", str(config_path)]
    assert main(args) == 0
    assert "every push field is there (Engagement_Score__c, Engagement_Band__c" in capsys.readouterr().out
    fake.fields["Account"] -= {"Engagement_Score__c", "Engagement_Trend__c"}
    with pytest.raises(CrmNotInitialized) as err:
        init_crm(fake.url, crm_config())
    assert (
        "Account lacks the engagement field(s) Engagement_Score__c (Number(16, 2)), Engagement_Trend__c (Text(8))"
        in (str(err.value))
    )
    assert main(args) == 1
    assert "Create them (Setup > Object Manager > Account > Fields)" in capsys.readouterr().err
    assert not fake.calls("PATCH")  # init-crm never changes the org
