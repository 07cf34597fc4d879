"""The whole-day resolve builds shards' events on a helper thread: its errors reach the caller, and
resolved/ comes out in time order whether that order was worked out ahead or not."""

from __future__ import annotations

import pytest

from include.scoring.core.config import load_config
from include.scoring.lake import catalog
from include.scoring.resolve import stage
from tests.unit.resolve.fixtures import D, at, write_day


@pytest.mark.parametrize("failing", [0, 2])
def test_an_error_building_a_shards_events_reaches_the_caller(lake, monkeypatch, failing):
    write_day(lake, web=[{"email": "jane.doe@acme.com"}, {"email": "sam@thames.co.uk"}])
    built = stage.shard_events

    def shard_events(lake, config, day, ranges, shard=0, shards=1):
        if shard == failing:
            raise RuntimeError(f"shard {shard} unreadable")
        return built(lake, config, day, ranges, shard, shards)

    monkeypatch.setattr(stage, "shard_events", shard_events)
    with pytest.raises(RuntimeError, match=f"shard {failing} unreadable"):
        stage.resolve_identities(lake, load_config(), D, shards=3)


@pytest.mark.parametrize("whole_day", [True, False])
def test_resolved_events_are_written_in_time_then_id_order_whatever_order_they_arrive_in(lake, whole_day):
    # events out of time order, two at the same instant whose ids sort against their arrival
    # order, and an unresolved and a filtered one between them (left out of resolved/)
    write_day(
        lake,
        web=[
            {"event_id": "w-late", "email": "jane.doe@acme.com", "event_time": at(D, 18)},
            {"event_id": "w-z", "email": "sam@thames.co.uk", "event_time": at(D, 9)},
            {"event_id": "w-gone", "email": "nobody@unknown-co.example", "event_time": at(D, 8)},
            {"event_id": "w-bot", "email": "sam@thames.co.uk", "user_agent": "Googlebot/2.1", "event_time": at(D, 7)},
            {"event_id": "w-a", "email": "jane.doe@acme.com", "event_time": at(D, 9)},
        ],
        ad=[{"event_id": "a-early", "company_domain": "acme.com", "event_time": at(D, 6)}],
    )
    config = load_config()
    if whole_day:  # the order worked out on the helper thread
        stage.resolve_identities(lake, config, D, shards=1)
    else:  # as an Airflow shard task: worked out when the shard is written
        stage.prepare_resolution(lake, config, D)
        stage.resolve_shard(lake, config, D, 0, 1)
    resolved = lake.read_df(catalog.RESOLVED, D)
    assert resolved["event_id"].tolist() == ["a-early", "w-a", "w-z", "w-late"]
    assert lake.read_df(catalog.UNRESOLVED, D)["event_id"].tolist() == ["w-gone"]
    assert lake.read_df(catalog.FILTERED, D)["event_id"].tolist() == ["w-bot"]
