"""The calibration report's figures (SPEC 6) on tiny tables whose answers can be worked out by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from include.scoring.core.config import load_config
from include.scoring.report.metrics import (
    band_distribution,
    bootstrap_weights,
    conversion_by_band,
    migration,
    score_auc,
    thresholds,
)

CFG = load_config()


def _auc(scores: list[float], won: list[int]) -> dict:
    labelled = pd.DataFrame({"account_id": [f"a{i}" for i in range(len(scores))], "score": scores, "won": won})
    weights, codes = bootstrap_weights(labelled["account_id"], 50, seed=1)
    return score_auc(labelled, weights, codes)


def test_roc_auc_by_counting_pairs():
    # winners score 3 and 1, losers 2 and 0: of the 4 (winner, loser) pairs the winner is higher
    # in (3,2), (3,0), (1,0) but not (1,2): AUC = 3/4
    result = _auc([3.0, 1.0, 2.0, 0.0], [1, 1, 0, 0])
    assert result["value"] == pytest.approx(0.75)
    assert result["curve"]["fpr"][0] == 0.0 and result["curve"]["tpr"][-1] == 1.0


def test_roc_auc_counts_a_tie_as_half():
    # the winner (2) against losers 2, 2, 0: 0.5 + 0.5 + 1 = 2 of 3 pairs
    assert _auc([2.0, 2.0, 2.0, 0.0], [1, 0, 0, 0])["value"] == pytest.approx(2 / 3)


def test_roc_auc_needs_both_outcomes():
    assert _auc([1.0, 2.0], [0, 0]) == {"value": None, "ci_low": None, "ci_high": None, "curve": None}


def test_conversion_by_band_counts_accounts_not_rows_with_wilson_intervals():
    labelled = pd.DataFrame(
        {
            "account_id": ["a", "a", "b", "c"],
            "band": ["cold", "cold", "cold", "hot"],
            "created": [0, 1, 1, 0],
            "won": [0, 1, 0, 0],
        }
    )
    by_band = {entry["band"]: entry for entry in conversion_by_band(labelled, CFG)}
    cold = by_band["cold"]
    assert cold["accounts"] == 2  # a (two rows) and b
    assert (cold["created"]["accounts"], cold["created"]["rate"]) == (2, 1.0)
    assert (cold["won"]["accounts"], cold["won"]["rate"]) == (1, 0.5)
    # Wilson 95% for 1 of 2: centre (p + z^2/2n) / (1 + z^2/n) = 0.5,
    # half width z sqrt(p(1-p)/n + z^2/4n^2) / (1 + z^2/n) with z = 1.959964
    z, n, p = 1.959964, 2, 0.5
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert cold["won"]["ci_low"] == pytest.approx(0.5 - half, abs=1e-5)
    assert cold["won"]["ci_high"] == pytest.approx(0.5 + half, abs=1e-5)
    assert by_band["hot"]["won"]["rate"] == 0.0
    assert by_band["warm"]["accounts"] == 0 and by_band["warm"]["won"]["rate"] is None


def test_thresholds_precision_recall_and_the_suggested_threshold():
    labelled = pd.DataFrame({"score": [60.0, 45.0, 30.0, 26.0, 20.0], "won": [1, 1, 0, 0, 0]})
    result = thresholds(labelled, CFG)
    by_t = {a["threshold"]: a for a in result["alerts"]}
    # > 25 flags 60, 45, 30, 26: 2 true of 4 flagged, both winners found
    assert (by_t[25.0]["precision"], by_t[25.0]["recall"]) == (0.5, 1.0)
    assert by_t[25.0]["f1"] == pytest.approx(2 / 3)
    assert (by_t[40.0]["precision"], by_t[40.0]["recall"], by_t[40.0]["f1"]) == (1.0, 1.0, 1.0)
    assert (by_t[50.0]["precision"], by_t[50.0]["recall"]) == (1.0, 0.5)
    # the first whole threshold that flags exactly the two winners: 30 (29 would still flag 30)
    assert result["suggested"]["threshold"] == 30.0 and result["suggested"]["f1"] == 1.0


def test_no_suggested_threshold_without_a_winner():
    result = thresholds(pd.DataFrame({"score": [10.0, 30.0], "won": [0, 0]}), CFG)
    assert result["suggested"] is None
    assert {a["threshold"]: a["precision"] for a in result["alerts"]} == {25.0: 0.0, 40.0: None, 50.0: None}


def test_band_distribution_counts_and_shares():
    day = pd.Timestamp("2026-03-31").date()
    scores = pd.DataFrame(
        {
            "as_of": [day, day, day, day, pd.Timestamp("2026-03-30").date()],
            "band": ["cold", "cold", "hot", "very_hot", "hot"],
            "lifecycle": ["prospect", "customer", "prospect", "prospect", "prospect"],
        }
    )
    dist = {d["band"]: d for d in band_distribution(scores, day, CFG)}
    assert {b: (d["accounts"], d["customers"], d["share"]) for b, d in dist.items()} == {
        "cold": (2, 1, 0.5),
        "warm": (0, 0, 0.0),
        "hot": (1, 0, 0.25),  # the hot row of the 30th is another day
        "very_hot": (1, 0, 0.25),
    }


def test_migration_between_month_ends():
    prev = pd.DataFrame({"account_id": ["a", "b", "c"], "band": ["cold", "hot", "warm"]})
    now = pd.DataFrame({"account_id": ["a", "b", "c", "d"], "band": ["warm", "warm", "warm", "cold"]})
    m = migration(prev, now, CFG)
    assert (m["moved_up"], m["moved_down"], m["stayed"], m["new_accounts"]) == (1, 1, 1, 1)
    # rows: band before (cold, warm, hot, very_hot); columns: band after
    assert m["matrix"] == [[0, 1, 0, 0], [0, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]]
    assert migration(None, now, CFG)["available"] is False
