"""The HubSpot connector against a fake HubSpot CRM API on loopback (tests/fakes).

The fake holds the same CRM data as a SQL CRM: the day's snapshot read through the API must
equal, row for row, what the SQL path extracts. Paging, a 429 honouring Retry-After and a 5xx
mid-way, an expired token, incremental reads through search and the v4 associations, init-crm.
"""

from __future__ import annotations

import logging
import math
from datetime import timedelta

import pytest

from include.scoring.core.contracts import CRM_TABLES
from include.scoring.core.errors import PipelineError
from include.scoring.extract.stage import extract_crm
from include.scoring.lake import catalog
from include.scoring.lake.store import Lake
from include.scoring.publish.stage import CrmNotInitialized, init_crm
from tests.fakes.hubspot import FakeHubSpot, error, hs_time
from tests.fakes.seed import HS_NOISE, crm_frames, hubspot_data, representable, write_sql_crm
from tests.integration.crm_fixtures import DAY, assert_same_snapshot, crm_config, snapshot

pytestmark = pytest.mark.integration
PAGE = 9
OBJECTS = ("companies", "contacts", "calls", "meetings", "deals")


@pytest.fixture(scope="module")
def crm_data(tmp_path_factory):
    from include.sample import generate

    out = tmp_path_factory.mktemp("hs")
    sample = generate(out / "sample", accounts=60, days=45, end_date=DAY, seed=11)
    frames = representable(crm_frames(sample.crm_url), "hubspot")
    sql_url = write_sql_crm(f"sqlite:///{out / 'same.sqlite'}", frames)
    lake = Lake(str(out / "sql-lake"))
    extract_crm(sql_url, lake, DAY)
    return frames, snapshot(lake)


@pytest.fixture
def fake(crm_data):
    frames, _ = crm_data
    with hubspot_data(FakeHubSpot(max_page=PAGE), frames) as api:
        yield api


def listing_pages(fake: FakeHubSpot) -> int:
    pages = sum(max(1, math.ceil(len(fake.objects[obj]) / PAGE)) for obj in OBJECTS)
    return pages + max(1, math.ceil(len(fake.owners) / PAGE))


def test_snapshot_equals_the_sql_path_row_for_row(crm_data, fake, tmp_path):
    frames, expected = crm_data
    lake = Lake(str(tmp_path / "lake"))
    results = {r.unit: r for r in extract_crm(fake.url, lake, DAY, crm_config())}
    assert_same_snapshot(expected, snapshot(lake))
    assert {unit: r.count("rows") for unit, r in results.items()} == {f"crm/{t}": len(frames[t]) for t in CRM_TABLES}
    activities = results["crm/activities"]
    assert activities.count("skipped") == HS_NOISE
    assert activities.warnings == [
        f"{HS_NOISE} calls matching no activity rule (hs_call_status='NO_ANSWER', hs_call_title='Left voicemail'): "
        "not part of the activities snapshot"
    ]
    listed = fake.calls("GET", "/crm/v3/")
    assert len(listed) == len(fake.requests) == listing_pages(fake)  # every listing followed paging.next.after
    assert {r.query["limit"] for r in listed} == {"100"}
    contacts = [r for r in listed if r.path == "/crm/v3/objects/contacts"]
    assert all(r.query["associations"] == "companies" and "hs_buying_role" in r.query["properties"] for r in contacts)
    assert sum(r.count("api_calls") for r in results.values()) == len(fake.requests)


def test_rate_limit_honours_retry_after_and_a_5xx_backs_off(crm_data, fake, tmp_path, caplog):
    _, expected = crm_data
    limited = error("RATE_LIMIT", "You have reached your ten_secondly_rolling limit.")
    fake.fail("GET", "/crm/v3/objects/contacts", 429, limited, headers={"Retry-After": "1"}, skip=2)
    fake.fail("GET", "/crm/v3/objects/calls", 502, error("BAD_GATEWAY", "upstream"), skip=1)
    lake = Lake(str(tmp_path / "lake"))
    with caplog.at_level(logging.DEBUG):  # every library's debug output too: the token never shows
        extract_crm(fake.url, lake, DAY, crm_config())
    assert_same_snapshot(expected, snapshot(lake))
    assert len(fake.requests) == listing_pages(fake) + 2
    assert "rate limited (429 RATE_LIMIT: You have reached your ten_secondly_rolling limit.); retrying in 1.0 s" in (
        caplog.text
    )
    assert "server error 502 BAD_GATEWAY: upstream; retrying in 0.0 s" in caplog.text
    assert fake.token not in caplog.text


def test_expired_token_is_a_clear_error_and_not_retried(fake, tmp_path):
    url = fake.url
    fake.token = "pat-na1-rotated"
    lake = Lake(str(tmp_path / "lake"))
    with pytest.raises(PipelineError) as err:
        extract_crm(url, lake, DAY, crm_config())
    text = str(err.value)
    assert (
        f"hubspot at hubspot+http://***@127.0.0.1:{fake.port} refused the access token (401 INVALID_AUTHENTICATION"
        in (text)
    )
    assert "Private apps" in text and "pat-na1-fake-token" not in text and len(fake.requests) == 1
    assert not lake.exists(catalog.raw("crm/accounts"), DAY)


def test_plain_http_off_loopback_is_refused(tmp_path):
    with pytest.raises(PipelineError) as err:
        extract_crm("hubspot+http://pat-secret@api.hubapi.com", Lake(str(tmp_path / "lake")), DAY, crm_config())
    assert "plain http to api.hubapi.com" in str(err.value) and "pat-secret" not in str(err.value)


def test_incremental_read_searches_what_changed_and_merges_it(fake, tmp_path):
    config = crm_config(overlap_minutes=0)
    lake = Lake(str(tmp_path / "lake"))
    extract_crm(fake.url, lake, DAY, config)
    nxt = DAY + timedelta(days=1)
    later = hs_time(f"{nxt}T09:00:00Z")
    company = fake.objects["companies"]["ACC-000002"]["properties"]
    company.update(name="Renamed Holdings", hs_lastmodifieddate=later)
    contact = next(iter(fake.objects["contacts"].values()))
    moved = {**contact, "associations": {"companies": [("ACC-000003", True)]}}
    moved["properties"] = {**contact["properties"], "lastmodifieddate": later}
    fake.add("contacts", [moved])  # the contact moved to another company
    call = next(r for r in fake.objects["calls"].values() if r["properties"]["hs_call_title"] == "Discovery call")
    fake.add("calls", [{**call, "id": "CALLNEW1", "properties": {**call["properties"], "hs_lastmodifieddate": later}}])
    before = len(fake.requests)
    results = {r.unit: r for r in extract_crm(fake.url, lake, nxt, config)}
    used = fake.requests[before:]
    searches = [r for r in used if r.path.endswith("/search")]
    assert sorted(r.path.split("/")[4] for r in searches) == sorted(OBJECTS)
    assert all(r.method == "POST" and r.body["filterGroups"][0]["filters"][0]["operator"] == "GT" for r in searches)
    links = [r for r in used if "/crm/v4/associations/" in r.path]
    assert sorted(r.path for r in links) == [
        "/crm/v4/associations/calls/companies/batch/read",
        "/crm/v4/associations/calls/contacts/batch/read",
        "/crm/v4/associations/contacts/companies/batch/read",
    ]  # only objects with changes ask for their associations
    assert {u: r.count("changed") for u, r in results.items()} == {
        "crm/accounts": 1,
        "crm/contacts": 1,
        "crm/activities": 1,
        "crm/opportunities": 0,
    }
    full = Lake(str(tmp_path / "full"))
    extract_crm(fake.url, full, nxt, config, full_refresh=True)
    merged = snapshot(lake, nxt)
    assert_same_snapshot(snapshot(full, nxt), merged)
    row = merged["contacts"][merged["contacts"]["contact_id"] == moved["id"]]
    assert row["account_id"].tolist() == ["ACC-000003"]


def test_search_beyond_its_limit_reads_the_object_whole(fake, tmp_path):
    config = crm_config(overlap_minutes=0, hubspot={"search_limit": 100})
    lake = Lake(str(tmp_path / "lake"))
    extract_crm(fake.url, lake, DAY, config)
    nxt = DAY + timedelta(days=1)
    later = hs_time(f"{nxt}T09:00:00Z")
    for record in list(fake.objects["contacts"].values())[:101]:
        record["properties"]["lastmodifieddate"] = later
    before = len(fake.requests)
    results = {r.unit: r for r in extract_crm(fake.url, lake, nxt, config)}
    contacts = [r for r in fake.requests[before:] if "/objects/contacts" in r.path]
    assert contacts[0].path.endswith("/search") and all(r.method == "GET" for r in contacts[1:])
    assert results["crm/contacts"].count("changed") == len(fake.objects["contacts"])
    full = Lake(str(tmp_path / "full"))
    extract_crm(fake.url, full, nxt, config, full_refresh=True)
    assert_same_snapshot(snapshot(full, nxt), snapshot(lake, nxt))


def test_init_crm_says_which_properties_to_create(fake):
    assert init_crm(fake.url, crm_config()) == []
    fake.company_properties -= {"engagement_band", "engagement_scored_at"}
    with pytest.raises(CrmNotInitialized) as err:
        init_crm(fake.url, crm_config())
    assert "engagement_band (string / text), engagement_scored_at (date / date)" in str(err.value)
    assert "Settings > Properties > Company properties" in str(err.value)
    assert not fake.calls("POST")


def test_a_refused_batch_is_reported_and_an_unavailable_api_stops_the_push(crm_data, fake):
    from datetime import date

    import pandas as pd

    from include.scoring.crm.api_client import CrmUnavailable
    from include.scoring.crm.connector import connector_for

    frames, _ = crm_data
    ids = sorted(frames["accounts"]["account_id"])
    scores = pd.DataFrame(
        {"account_id": ids, "score": 30.0, "band": "hot", "trend": "up", "engagement_percentile": 50.0, "health": None}
    )
    refused = error("VALIDATION_ERROR", "Property values were not valid: engagement_band")
    fake.fail("POST", "/batch/update", 400, refused, skip=1)  # the second call is refused as a whole
    config = crm_config(hubspot={"push_batch": 25})
    with connector_for(fake.url, config) as crm:
        outcome = crm.push(scores, date(2026, 11, 20))
    assert outcome.batches == [25, 25, 10]
    assert [a for a, _ in outcome.failed] == ids[25:50] and "VALIDATION_ERROR" in outcome.failed[0][1]
    assert outcome.updated == ids[:25] + ids[50:]
    fake.fail("POST", "/batch/update", 503, error("SERVICE_UNAVAILABLE", "down"), times=10_000)
    quick = crm_config(hubspot={"push_batch": 25}, http={"backoff_seconds": 0.01, "retry_budget_seconds": 0.05})
    with connector_for(fake.url, quick) as crm, pytest.raises(CrmUnavailable, match="kept failing"):
        crm.push(scores, date(2026, 11, 21))  # the 25 refused before are sent again, and the API is down
    updates = fake.calls("POST", "/batch/update")
    # the first batch of the second push: 1 try and 2 retries (waits 0.01 + 0.02 s; 0.04 more would pass the
    # 0.05 s budget); no other batch was tried once it ran out
    assert len(updates) == 3 + 3
