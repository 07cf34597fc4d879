"""The whole-day resolve builds shards' events on a helper thread: its errors reach the caller."""

from __future__ import annotations

import pytest

from include.scoring.core.config import load_config
from include.scoring.resolve import stage
from tests.unit.resolve.fixtures import D, write_day


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
