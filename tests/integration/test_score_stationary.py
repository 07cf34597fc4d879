"""On the default sample the scores stay meaningful (SPEC 5, issue 19): once the accumulation
window has filled, the prospects' bands fall off from Cold to Very Hot and the Very Hot share holds
steady instead of growing with history."""

from __future__ import annotations

from datetime import timedelta

import pytest

from include.scoring.lake import catalog

pytestmark = pytest.mark.integration


def _prospect_bands(ctx, day) -> dict[str, int]:
    scores = ctx.lake.read_df(catalog.SCORES, day)
    return scores[scores["lifecycle"] != "customer"]["band"].value_counts().to_dict()


def test_bands_fall_off_and_the_very_hot_share_is_stationary(default_run):
    summary, ctx, _ = default_run
    window = ctx.config.accumulation.window_days
    filled = summary.start + timedelta(days=window)  # the first day whose window is full
    assert filled < summary.end, "the default sample must be longer than the window"
    last = _prospect_bands(ctx, summary.end)
    counts = [last.get(b, 0) for b in ("cold", "warm", "hot", "very_hot")]
    assert counts == sorted(counts, reverse=True), last
    share = {
        day: _prospect_bands(ctx, day).get("very_hot", 0) / sum(_prospect_bands(ctx, day).values())
        for day in (filled, summary.end)
    }
    assert share[summary.end] <= ctx.config.bands_max_share["very_hot"], share
    assert abs(share[summary.end] - share[filled]) <= 0.05, share
