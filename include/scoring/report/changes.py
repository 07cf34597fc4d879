"""What moved since last month, and the month's open outcome windows, in plain words."""

from __future__ import annotations

import pandas as pd

from include.scoring.report.months import previous_month
from include.scoring.report.warnings import pending_windows


def outcome_words(metrics: dict) -> str:
    """Either "14 closed-won outcome(s)" or, when no window of the month has closed yet "outcomes pending
    (windows close on A .. B)": a month that is not over never reads as "0 outcomes"."""
    when = pending_windows(metrics)
    if metrics["outcomes"]["labelled_account_days"] == 0 and when:
        return f"outcomes pending (windows close on {when['close_from']} .. {when['close_until']})"
    return f"{metrics['outcomes']['won']} closed-won outcome(s)"


def open_windows(rows: pd.DataFrame) -> dict:
    """The month's account-days whose outcome window is still open on the report date."""
    still = rows[~rows["labelled"]]
    return {
        "account_days": len(still),
        "accounts": int(still["account_id"].nunique()),
        "accounts_won_so_far": int(still.loc[still["won_so_far"], "account_id"].nunique()),
        "accounts_created_so_far": int(still.loc[still["created_so_far"], "account_id"].nunique()),
        "first_open_day": str(still["as_of"].min()) if len(still) else None,
    }


def changes_since(metrics: dict, previous: dict | None) -> list[str]:
    """Plain sentences: what moved since last month."""
    out = []
    prev_bands = metrics["bands"]["previous"]
    if prev_bands:
        moves = [
            f"{b['band'].replace('_', ' ')} {prev_bands.get(b['band'], 0)} -> {b['accounts']}"
            for b in metrics["bands"]["end_of_month"]
        ]
        out.append(f"Accounts per band since {metrics['bands']['previous_day']}: " + ", ".join(moves) + ".")
        mig = metrics["bands"]["migration"]
        out.append(
            f"{mig['moved_up']} account(s) moved up a band or more, {mig['moved_down']} moved down, {mig['stayed']} "
            "stayed."
        )
    if previous is None:
        out.append(
            f"No report for {previous_month(metrics['month'])} in the report folder: AUC and outcomes cannot be "
            "compared with last month."
        )
        return out
    prev_auc, auc = previous.get("auc", {}).get("value"), metrics["auc"]["value"]
    if prev_auc is not None and auc is not None:
        out.append(f"ROC AUC {prev_auc:.2f} -> {auc:.2f}.")
    out.append(
        f"Closed-won outcomes: {previous_month(metrics['month'])} {previous.get('outcomes', {}).get('won')}, "
        f"{metrics['month']} {outcome_words(metrics)}."
    )
    if previous.get("reliable") != metrics["reliable"]:
        out.append("The figures are " + ("now reliable." if metrics["reliable"] else "no longer reliable."))
    return out


#: months in the report's trend (this one and the reports of the months before it)
TREND_MONTHS = 6


def trend_point(metrics: dict) -> dict:
    """One month of the trend: its AUC and closed-won rate per band (None when withheld)."""
    return {
        "month": metrics["month"],
        "auc": (metrics.get("auc") or {}).get("value"),
        "won_rate": {c["band"]: c["won"]["rate"] for c in metrics.get("conversion_by_band", [])},
    }
