"""Where an account stands in the day's book (SPEC section 5): the percentile among the day's
prospects, and band health, the share of prospects in each band.

Both need every account of the day. Without shards the score stage works them out as it writes the
day; with shards each score task sees only its accounts, so `rank_scores` fills in the percentile
once every shard is written (score/stage.py `rank_day`). Either way the numbers are the same.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from include.scoring.core.config import ScoringConfig
from include.scoring.core.results import StageResult
from include.scoring.score.outputs import band_codes, band_shares, percentiles

log = logging.getLogger(__name__)


@dataclass
class BandHealth:
    """The prospects per band on a day, and the bands holding more than their configured share."""

    day: str
    counts: dict[str, int]
    shares: dict[str, float]
    over: dict[str, float]  # band -> its limit, for the bands above it

    def warnings(self) -> list[str]:
        return [
            f"band health {self.day}: {band} holds {self.shares[band]:.1%} of the prospects, more than "
            f"bands_max_share.{band} {limit:.0%}: the bands no longer separate accounts (check the config "
            "with python -m include.scoring backtest)"
            for band, limit in self.over.items()
        ]

    def meta(self) -> dict:
        """What the day's score files record (Parquet metadata)."""
        return {"prospects_per_band": self.counts, "prospect_band_shares": self.shares}

    def report(self, result: StageResult) -> None:
        """Log the shares (a warning per band over its share) and add them to the stage's result."""
        result.breakdowns["prospects_per_band"] = dict(self.counts)
        for warning in self.warnings():
            log.warning(warning)
            result.warnings.append(warning)


def _prospects(scores: pa.Table) -> np.ndarray:
    return np.asarray(pc.fill_null(pc.not_equal(scores["lifecycle"], "customer"), True).to_numpy(), dtype=bool)


def day_band_health(scores: pa.Table, band: np.ndarray, config: ScoringConfig) -> BandHealth:
    """Band health of a whole day's score rows (`band`: their band codes)."""
    prospect = _prospects(scores)
    counts = np.bincount(band[prospect], minlength=len(config.bands))
    shares = band_shares(band, prospect, config)
    over = {name: limit for name, limit in config.bands_max_share.items() if shares.get(name, 0.0) > limit}
    day = str(scores["as_of"][0]) if scores.num_rows else "?"
    return BandHealth(day, {b.name: int(c) for b, c in zip(config.bands, counts, strict=True)}, shares, over)


def rank_scores(scores: pa.Table, config: ScoringConfig) -> tuple[pa.Table, BandHealth]:
    """A whole day's score rows with `engagement_percentile` filled in, and the day's band health."""
    score = scores["score"].to_numpy()
    prospect = _prospects(scores)
    ranked = pa.array(percentiles(score, prospect), pa.float64(), from_pandas=True)
    at = scores.schema.get_field_index("engagement_percentile")
    table = scores.set_column(at, scores.schema.field(at), ranked)
    return table, day_band_health(scores, band_codes(score, config), config)
