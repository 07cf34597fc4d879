"""Band edges for target shares: each band holds its configured share of the prospects, and both
configs' shares and conversion are compared on the same labelled account-days."""

from __future__ import annotations

import numpy as np
import pandas as pd

from include.scoring.core.config import load_config
from include.scoring.report.bands import band_thresholds, target_edges

CONFIG = load_config()


def test_edges_give_the_target_shares_and_a_diff_of_the_bands():
    rng = np.random.default_rng(1)
    scores = np.round(rng.gamma(1.5, 12, 2000), 2)  # most prospects near 0, a long tail
    edges = target_edges(scores, CONFIG)
    assert edges == sorted(edges) and len(edges) == len(CONFIG.bands) - 1
    labelled = pd.DataFrame({"account_id": [f"A{i}" for i in range(2000)], "score": scores, "won": scores > 60})
    result = band_thresholds(scores, labelled, CONFIG)
    shares = {b["band"]: b["prospect_share"] for b in result["proposed"]}
    targets = CONFIG.calibration.band_target_shares
    for band, share in targets.items():
        assert abs(shares[band] - share) < 0.02, (band, shares)  # edges are whole points
    assert abs(shares["cold"] - (1 - sum(targets.values()))) < 0.02
    assert result["changed"] and "-  - {name: cold, max_score: 10," in result["diff"]
    assert f"+  - {{name: cold, max_score: {int(edges[0])}," in result["diff"]
    current = {b["band"]: b for b in result["current"]}
    assert current["cold"]["max_score"] == 10 and current["very_hot"]["max_score"] is None
    assert sum(b["accounts"] for b in result["proposed"]) == 2000  # one labelled day per account here


def test_a_target_for_an_unknown_band_is_explained_not_a_crash():
    config = CONFIG.model_copy(
        update={"calibration": CONFIG.calibration.model_copy(update={"band_target_shares": {"scorching": 0.1}})}
    )
    result = band_thresholds(np.zeros(10), pd.DataFrame({"account_id": [], "score": [], "won": []}), config)
    assert not result["available"] and "warm, hot, very_hot" in result["note"]
