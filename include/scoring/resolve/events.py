"""The event half of a resolve shard: its events read, normalised and given their filter reasons.

It needs the day's IP ranges but not the identity map, so a whole-day run builds it on a helper
thread while `prepare_resolution` writes the map (Arrow kernels and Parquet reads release the GIL).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from include.scoring.core.config import ScoringConfig
from include.scoring.lake.store import Lake
from include.scoring.resolve.inputs import crm_events, deliveries, late_crm_events, normalise_events, read_events
from include.scoring.resolve.nonhuman import first_deliveries, non_human_reasons

LATE_ARRIVAL = "late_arrival"  # a CRM activity first seen after its late-arrival window: filtered


def shard_events(
    lake: Lake, config: ScoringConfig, day: date, ranges: pd.DataFrame, shard: int = 0, shards: int = 1
) -> pd.DataFrame:
    """The shard's valid and CRM events, normalised (`ranges`: the reference's IP ranges), with
    `filter_reason` set for machines, re-emitted CRM activities (`duplicate`) and late ones."""
    parts = read_events(lake, day, shard, shards)
    fresh, repeats = crm_events(lake, config, day, shard, shards)
    late = late_crm_events(lake, config, day, shard, shards)
    first = sum(len(p) for p in parts) + len(fresh)
    repeat = np.r_[np.zeros(first, bool), np.ones(len(repeats), bool), np.zeros(len(late), bool)]
    too_late = np.r_[np.zeros(first + len(repeats), bool), np.ones(len(late), bool)]
    frames = [*parts, fresh, repeats, late]
    # no empty frames: an untyped one (no late activities) turned the whole day's times into objects
    events = pd.concat([f for f in frames if len(f)] or frames, ignore_index=True)
    del frames, parts, fresh, repeats, late  # the day is held once, not twice
    ev = normalise_events(events, config, ranges)
    del events
    reasons = non_human_reasons(ev, first_deliveries(deliveries(lake, day, ev, shard, shards)), config.non_human)
    ev["filter_reason"] = reasons.mask(repeat, "duplicate").mask(too_late, LATE_ARRIVAL)
    return ev
