"""Machine-readable warnings of a calibration report: what a reader must see before the figures.

`report_warnings(metrics, config)` reads the computed metrics (metrics.json content) and returns
`[{code, message, ...details}]`, stored as `metrics["warnings"]` and shown at the top of the HTML
and the PDF. Codes (docs/metrics.md):

- `outcomes_pending`: some account-days of the month have outcome windows that are still open on
  the report date; says when they close (never "0 outcomes" for a month that is simply not over).
- `auc_near_chance`: the score's ROC AUC interval includes 0.5, or the AUC is below 0.6.
- `bands_not_monotone`: a higher band converted lower than a lower band, the intervals apart.
- `band_saturation`: a band holds more of the prospects than `bands_max_share` allows.
- `threshold_degenerate`: the suggested alert threshold is at or below the lowest band's edge
  (it would flag the bulk of all account-days).
"""

from __future__ import annotations

from datetime import date, timedelta

from include.scoring.core.config import ScoringConfig

#: ROC AUC below this is too weak to rank accounts by, whatever its interval
MIN_USEFUL_AUC = 0.6


def _label(name: str) -> str:
    return name.replace("_", " ")


def pending_windows(metrics: dict) -> dict | None:
    """When the open outcome windows of the month close: {first_day, last_day, close_from, close_until}."""
    ow = metrics["outcomes"]["open_window"]
    if not ow["account_days"]:
        return None
    n = metrics["settings"]["outcome_window_days"]
    try:
        first = date.fromisoformat(ow["first_open_day"])
        last = date.fromisoformat(metrics["last_day"])
    except (TypeError, ValueError):  # metrics not written by this pipeline: nothing to work out
        return None
    return {
        "first_day": first.isoformat(),
        "last_day": last.isoformat(),
        "close_from": (first + timedelta(days=n)).isoformat(),
        "close_until": (last + timedelta(days=n)).isoformat(),
    }


def _outcomes_pending(metrics: dict) -> list[dict]:
    when = pending_windows(metrics)
    if when is None:
        return []
    ow = metrics["outcomes"]["open_window"]
    whole = when["first_day"] == metrics["first_day"]
    scope = (
        f"every day of {metrics['month']}"
        if whole
        else f"{ow['account_days']:,} account-days from {when['first_day']} to {when['last_day']}"
    )
    so_far = (
        f"; {ow['accounts_won_so_far']} of those accounts have closed won so far" if ow["accounts_won_so_far"] else ""
    )
    return [
        {
            "code": "outcomes_pending",
            "message": (
                f"Outcomes pending for {scope}: their {metrics['settings']['outcome_window_days']}-day windows "
                "close on "
                f"{when['close_from']} .. {when['close_until']}, after the report date {metrics['report_date']}, "
                f"so they are left out, not counted as lost{so_far}. Run the report again after {when['close_until']} "
                "for final figures."
            ),
            "account_days": ow["account_days"],
            **when,
        }
    ]


def _auc_near_chance(metrics: dict) -> list[dict]:
    auc = metrics["auc"]
    if not metrics["reliable"] or auc["value"] is None:
        return []
    lo, hi = auc["ci_low"], auc["ci_high"]
    straddles = lo is not None and hi is not None and lo <= 0.5 <= hi
    if not straddles and auc["value"] >= MIN_USEFUL_AUC:
        return []
    interval = f" (95% interval {lo:.2f}-{hi:.2f})" if lo is not None and hi is not None else ""
    reason = "its interval includes 0.5" if straddles else f"it is below {MIN_USEFUL_AUC}"
    return [
        {
            "code": "auc_near_chance",
            "message": (
                f"The score ranks accounts little better than chance: ROC AUC {auc['value']:.2f}{interval}, "
                f"{reason}. Do not act on the bands or the suggested points before finding out why."
            ),
            "auc": auc["value"],
            "ci_low": lo,
            "ci_high": hi,
        }
    ]


def _bands_not_monotone(metrics: dict) -> list[dict]:
    if not metrics["reliable"]:
        return []
    out = []
    conv = [c for c in metrics["conversion_by_band"] if c["won"]["rate"] is not None]
    for i, low in enumerate(conv):
        for high in conv[i + 1 :]:
            if high["won"]["ci_high"] is not None and high["won"]["ci_high"] < low["won"]["ci_low"]:
                out.append(
                    {
                        "code": "bands_not_monotone",
                        "message": (
                            f"{_label(high['band']).capitalize()} converted lower than {_label(low['band'])}: "
                            f"{100 * high['won']['rate']:.1f}% against {100 * low['won']['rate']:.1f}% closed won, "
                            "the 95% intervals apart. The bands do not order accounts by their chance to buy."
                        ),
                        "higher_band": high["band"],
                        "lower_band": low["band"],
                        "higher_rate": high["won"]["rate"],
                        "lower_rate": low["won"]["rate"],
                    }
                )
    return out


def _band_saturation(metrics: dict, config: ScoringConfig) -> list[dict]:
    out = []
    for b in metrics["bands"]["end_of_month"]:
        limit = config.bands_max_share.get(b["band"])
        share = b.get("prospect_share")
        if limit is not None and share is not None and share > limit:
            out.append(
                {
                    "code": "band_saturation",
                    "message": (
                        f"{_label(b['band']).capitalize()} holds {100 * share:.1f}% of the prospects on "
                        f"{metrics['last_day']}, over its limit of {100 * limit:.0f}% (bands_max_share): the band "
                        "no longer singles out accounts. Raise its edge (see the band-share thresholds)."
                    ),
                    "band": b["band"],
                    "share": share,
                    "limit": limit,
                }
            )
    return out


def _threshold_degenerate(metrics: dict, config: ScoringConfig) -> list[dict]:
    best = metrics.get("suggested_threshold")
    edge = config.bands[0].max_score
    if not best or edge is None or best["threshold"] > edge:
        return []
    return [
        {
            "code": "threshold_degenerate",
            "message": (
                f"The best-F1 alert threshold is 'above {best['threshold']:g}', at or below the edge of the lowest "
                f"band ({_label(config.bands[0].name)}, up to {edge:g}): it would flag "
                f"{best['flagged_account_days']:,} account-days. Alerting there tells sales nothing; keep the "
                "current thresholds."
            ),
            "threshold": best["threshold"],
            "lowest_band_edge": edge,
        }
    ]


def report_warnings(metrics: dict, config: ScoringConfig) -> list[dict]:
    """Every warning that applies to the computed `metrics` (see the module docstring)."""
    return (
        _outcomes_pending(metrics)
        + _auc_near_chance(metrics)
        + _bands_not_monotone(metrics)
        + _band_saturation(metrics, config)
        + _threshold_degenerate(metrics, config)
    )
