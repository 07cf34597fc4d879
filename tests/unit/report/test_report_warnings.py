"""The report's machine-readable warnings: each fires on a month crafted to deserve it, none on a
healthy month, and a month whose outcome windows are open says when they close, never "0 outcomes"."""

from __future__ import annotations

import copy

import pytest

from include.scoring.core.config import load_config
from include.scoring.report.changes import changes_since, outcome_words
from include.scoring.report.render import headline
from include.scoring.report.warnings import report_warnings

CONFIG = load_config()


def _rate(k: int, n: int, lo: float, hi: float) -> dict:
    return {"accounts": k, "rate": k / n, "ci_low": lo, "ci_high": hi}


def healthy() -> dict:
    """A month whose windows have all closed, with a good AUC, bands that order conversion,
    no saturated band and a suggested threshold well above the cold band."""
    bands = [("cold", 0.70), ("warm", 0.18), ("hot", 0.08), ("very_hot", 0.04)]
    return {
        "month": "2026-08",
        "first_day": "2026-08-01",
        "last_day": "2026-08-31",
        "report_date": "2026-12-02",
        "reliable": True,
        "settings": {"outcome_window_days": 90},
        "outcomes": {
            "won": 34,
            "created": 60,
            "labelled_account_days": 8000,
            "open_window": {
                "account_days": 0,
                "accounts": 0,
                "accounts_won_so_far": 0,
                "accounts_created_so_far": 0,
                "first_open_day": None,
            },
        },
        "auc": {"value": 0.78, "ci_low": 0.71, "ci_high": 0.84},
        "bands": {
            "end_of_month": [
                {"band": b, "accounts": int(300 * s), "customers": 0, "share": s, "prospect_share": s} for b, s in bands
            ]
        },
        "conversion_by_band": [
            {"band": "cold", "accounts": 200, "won": _rate(4, 200, 0.008, 0.05)},
            {"band": "warm", "accounts": 60, "won": _rate(6, 60, 0.05, 0.2)},
            {"band": "hot", "accounts": 30, "won": _rate(9, 30, 0.17, 0.48)},
            {"band": "very_hot", "accounts": 15, "won": _rate(8, 15, 0.3, 0.75)},
        ],
        "signals": [],
        "suggested_threshold": {"threshold": 30.0, "f1": 0.3, "flagged_account_days": 900},
    }


def _codes(metrics: dict) -> list[str]:
    return [w["code"] for w in report_warnings(metrics, CONFIG)]


def test_a_healthy_month_has_no_warning():
    assert _codes(healthy()) == []


@pytest.mark.parametrize(
    "auc",
    [{"value": 0.53, "ci_low": 0.52, "ci_high": 0.55}, {"value": 0.58, "ci_low": 0.51, "ci_high": 0.64}],
    ids=["below-0.6", "below-0.6-narrow"],
)
def test_auc_near_chance_fires_below_0_6(auc):
    m = healthy()
    m["auc"] = auc
    (warning,) = report_warnings(m, CONFIG)
    assert warning["code"] == "auc_near_chance" and warning["auc"] == auc["value"] and "chance" in warning["message"]


def test_auc_near_chance_fires_when_the_interval_includes_one_half():
    m = healthy()
    m["auc"] = {"value": 0.64, "ci_low": 0.45, "ci_high": 0.8}
    assert _codes(m) == ["auc_near_chance"]


def test_bands_not_monotone_needs_the_intervals_apart():
    m = healthy()
    m["conversion_by_band"][2]["won"] = _rate(1, 40, 0.004, 0.13)  # hot below warm, but the intervals overlap
    assert _codes(m) == []
    m["conversion_by_band"][2]["won"] = _rate(0, 40, 0.0, 0.03)  # hot below warm's interval: apart
    (warning,) = report_warnings(m, CONFIG)
    assert warning["code"] == "bands_not_monotone"
    assert (warning["higher_band"], warning["lower_band"]) == ("hot", "warm") and "Hot converted lower" in warning[
        "message"
    ]


def test_band_saturation_uses_the_configured_share():
    m = healthy()
    limit = CONFIG.bands_max_share["very_hot"]
    m["bands"]["end_of_month"][3]["prospect_share"] = limit - 0.01
    assert _codes(m) == []
    m["bands"]["end_of_month"][3]["prospect_share"] = limit + 0.05
    (warning,) = report_warnings(m, CONFIG)
    assert warning["code"] == "band_saturation" and warning["band"] == "very_hot" and warning["limit"] == limit


def test_threshold_degenerate_at_or_below_the_lowest_band_edge():
    m = healthy()
    edge = CONFIG.bands[0].max_score
    m["suggested_threshold"] = {"threshold": edge + 1, "f1": 0.2, "flagged_account_days": 2000}
    assert _codes(m) == []
    m["suggested_threshold"] = {"threshold": 0.0, "f1": 0.1, "flagged_account_days": 4000}
    (warning,) = report_warnings(m, CONFIG)
    assert (
        warning["code"] == "threshold_degenerate" and "above 0" in warning["message"] and "4,000" in warning["message"]
    )


def _pending(m: dict, first_open: str, account_days: int) -> dict:
    m = copy.deepcopy(m)
    m["outcomes"]["open_window"].update(
        account_days=account_days, accounts=120, accounts_won_so_far=3, first_open_day=first_open
    )
    return m


def test_outcomes_pending_says_when_the_windows_close():
    m = _pending(healthy(), "2026-08-23", 2700)
    m["report_date"] = "2026-11-20"
    (warning,) = report_warnings(m, CONFIG)
    assert warning["code"] == "outcomes_pending"
    assert (warning["close_from"], warning["close_until"]) == ("2026-11-21", "2026-11-29")
    assert (
        "windows close on 2026-11-21 .. 2026-11-29" in warning["message"]
        and "not counted as lost" in warning["message"]
    )


def test_a_month_with_every_window_open_reads_pending_never_zero_outcomes():
    m = _pending(healthy(), "2026-09-01", 9000)
    m.update(month="2026-09", first_day="2026-09-01", last_day="2026-09-30", report_date="2026-11-20", reliable=False)
    m["outcomes"].update(won=0, created=0, labelled_account_days=0)
    m["auc"] = {"value": None, "ci_low": None, "ci_high": None}
    m["suggested_threshold"] = None
    m["bands"].update(previous=None)
    codes = _codes(m)
    assert codes == ["outcomes_pending"]
    (warning,) = report_warnings(m, CONFIG)
    assert (
        "every day of 2026-09" in warning["message"]
        and "windows close on 2026-11-30 .. 2026-12-29" in warning["message"]
    )
    words = outcome_words(m)
    assert words == "outcomes pending (windows close on 2026-11-30 .. 2026-12-29)"
    m["warnings"] = report_warnings(m, CONFIG)
    shown = dict(headline(m))
    assert shown["Closed-won outcomes"] == "pending until 2026-12-29" and shown["Warnings"] == "outcomes_pending"
    lines = changes_since(m, {"outcomes": {"won": 14}, "auc": {"value": None}, "reliable": False})
    text = " | ".join(lines + [w["message"] for w in m["warnings"]] + [v for _, v in shown.items()])
    assert "-> 0" not in text and " 0 closed-won" not in text and "0 outcomes" not in text
    assert "2026-08 14, 2026-09 outcomes pending (windows close on 2026-11-30 .. 2026-12-29)." in " ".join(lines)
