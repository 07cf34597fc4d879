"""The suggested points only move where the data can speak: a signal the data never saw keeps its
points, and a signal whose lift interval lies above 1 is never lowered, even when the regression,
which credits a correlated signal instead, would lower it."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from include.scoring.core.config import load_config
from include.scoring.report.data import signal_names
from include.scoring.report.metrics import bootstrap_weights, signal_lift
from include.scoring.report.suggest import fit_points, guard_tier, nearest_tier, verdict

CONFIG = load_config()
TIER = {}
for _rule in CONFIG.signals:
    TIER.setdefault(_rule.name, _rule.tier)


def _month(n: int = 400, seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One labelled day per account. Every winner had sales conversations (and most losers none);
    half the winners also visited pricing, and a few losers: pricing's lift is clearly above 1,
    but sales conversations explain the wins better, so the fit gives pricing few points."""
    rng = np.random.default_rng(seed)
    won = (np.arange(n) < n // 5).astype(int)
    counts = pd.DataFrame(0, index=range(n), columns=signal_names(CONFIG), dtype=np.int64)
    counts["sales_conversation"] = np.where(won == 1, rng.integers(3, 6, n), (rng.random(n) < 0.05) * 1)
    counts["pricing_page_visit"] = np.where(won == 1, rng.random(n) < 0.5, rng.random(n) < 0.04).astype(int)
    counts["page_view"] = rng.poisson(3, n)
    counts["email_open"] = rng.poisson(1, n)  # drawn the same for everybody
    # demo_request: never in the data (its column stays 0)
    labelled = pd.DataFrame(
        {
            "account_id": [f"A{i:04d}" for i in range(n)],
            "as_of": date(2026, 8, 1),
            "score": 0.0,
            "band": "cold",
            "won": won,
        }
    )
    return labelled, counts


def _lifts(labelled: pd.DataFrame, counts: pd.DataFrame) -> dict[str, dict]:
    weights, codes = bootstrap_weights(labelled["account_id"], 300, 42)
    entries = signal_lift(labelled, counts, weights, codes, CONFIG.calibration.min_signal_accounts)
    return {e["signal"]: e for e in entries}


def test_a_signal_absent_from_the_data_keeps_its_points():
    labelled, counts = _month()
    lifts = _lifts(labelled, counts)
    fitted, why = fit_points(labelled, counts, CONFIG, pd.Series(True, index=labelled.index))
    assert fitted and not why
    assert "demo_request" not in fitted  # nothing to fit on: not a fitted 0
    assert lifts["demo_request"]["accounts_with"] == 0 and lifts["demo_request"]["too_rare"]
    tier, note = guard_tier(TIER["demo_request"], fitted.get("demo_request"), lifts["demo_request"], CONFIG)
    assert tier == TIER["demo_request"] and CONFIG.tiers[tier] == 10
    assert note == "not judged (seen in 0 accounts)"


def test_a_rare_signal_keeps_its_points_even_when_fitted():
    labelled, counts = _month()
    counts.loc[[0, 1], "rfp_issued"] = 1  # two winners only: fewer than min_signal_accounts
    lifts = _lifts(labelled, counts)
    fitted, _ = fit_points(labelled, counts, CONFIG, pd.Series(True, index=labelled.index))
    assert "rfp_issued" in fitted and lifts["rfp_issued"]["too_rare"]
    tier, note = guard_tier(TIER["rfp_issued"], fitted["rfp_issued"], lifts["rfp_issued"], CONFIG)
    assert tier == TIER["rfp_issued"] and note == "not judged (seen in 2 accounts)"


def test_a_signal_whose_lift_interval_lies_above_1_is_never_lowered():
    labelled, counts = _month()
    lifts = _lifts(labelled, counts)
    pricing = lifts["pricing_page_visit"]
    assert pricing["ci_low"] > 1, pricing
    fitted, _ = fit_points(labelled, counts, CONFIG, pd.Series(True, index=labelled.index))
    unguarded = nearest_tier(fitted["pricing_page_visit"], CONFIG)
    current = TIER["pricing_page_visit"]
    assert CONFIG.tiers[unguarded] < CONFIG.tiers[current], fitted  # the bare fit would lower it
    tier, note = guard_tier(current, fitted["pricing_page_visit"], pricing, CONFIG)
    assert tier == current and note.startswith("kept: lift interval") and "above 1" in note
    # the stronger signal is free to move up: sales conversations get the top tier
    assert guard_tier(TIER["sales_conversation"], fitted["sales_conversation"], lifts["sales_conversation"], CONFIG)[
        0
    ] == max(CONFIG.tiers, key=CONFIG.tiers.get)


def test_a_signal_whose_lift_interval_lies_below_1_is_never_raised():
    lift = {"signal": "page_view", "accounts_with": 300, "too_rare": False, "lift": 0.5, "ci_low": 0.3, "ci_high": 0.8}
    top = max(CONFIG.tiers.values())
    tier, note = guard_tier(TIER["page_view"], top, lift, CONFIG)
    assert tier == TIER["page_view"] and "below 1" in note
    assert guard_tier(TIER["page_view"], 0.0, lift, CONFIG)[0] == 0  # lowering it is allowed


def test_the_verdict_needs_stable_changes_and_a_gain_beyond_its_interval():
    rows = [{"signal": "a", "changed": True, "stability": 0.95}, {"signal": "b", "changed": False, "stability": 1}]
    sure = {"gain": {"value": 0.04, "ci_low": 0.01, "ci_high": 0.07}}
    assert verdict(rows, sure)[0]
    assert not verdict(rows, {"gain": {"value": 0.02, "ci_low": -0.01, "ci_high": 0.05}})[0]
    shaky = [{"signal": "a", "changed": True, "stability": 0.55}]
    ok, text = verdict(shaky, sure)
    assert not ok and "unstable" in text and "a" in text
    assert verdict([{"signal": "a", "changed": False, "stability": 1}], sure) == (
        False,
        "The data suggests no change: keep the current points.",
    )
