"""Customers' churn by health state: does `at_risk` (or `dormant`) predict churn?

Rows are customers as scored on each day D of the month, with the health state of that day. A row's
outcome is *churned*: the account's lifecycle became `churned` in (D, D + N] (N =
`calibration.outcome_window_days`), as the published score history shows by the report date. A
row counts once its window has closed (D + N <= report date), as the prospects' rows do. Per health
state: the customers seen in that state on a labelled day, how many of them churned within the
window after such a day, with a 95% Wilson interval (accounts, not days, are counted).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from include.scoring.report.metrics import wilson

#: health states in the order the report lists them (score.health.HEALTH, most worrying last)
STATES = ("healthy", "expanding", "at_risk", "dormant")


def label_churn(customers: pd.DataFrame, churn_day: pd.Series, window_days: int, report_date: date) -> pd.DataFrame:
    """Customer rows (account_id, as_of, health) with `labelled` and `churned`. `churn_day`: per
    account id, the first day its lifecycle reads `churned` (accounts that never churned absent)."""
    as_of = pd.to_datetime(customers["as_of"])
    end = as_of + pd.Timedelta(days=window_days)
    churned_on = pd.to_datetime(customers["account_id"].map(churn_day))
    return customers.assign(
        labelled=(end <= pd.Timestamp(report_date)).to_numpy(),
        churned=(churned_on.notna() & (churned_on > as_of) & (churned_on <= end)).to_numpy(),
    )


def churn_by_health(rows: pd.DataFrame) -> dict:
    """Per health state: accounts, churned accounts, rate and Wilson interval, on labelled rows."""
    labelled = rows[rows["labelled"]] if len(rows) else rows
    states = []
    for state in STATES:
        per_account = labelled[labelled["health"] == state].groupby("account_id")["churned"].max()
        n, k = len(per_account), int(per_account.sum())
        lo, hi = wilson(k, n)
        states.append(
            {"health": state, "accounts": n, "churned": k, "rate": k / n if n else None, "ci_low": lo, "ci_high": hi}
        )
    by = {s["health"]: s for s in states}
    risky, healthy = by["at_risk"], by["healthy"]
    predicts = risky["ci_low"] is not None and healthy["ci_high"] is not None and risky["ci_low"] > healthy["ci_high"]
    return {
        "customers": int(rows["account_id"].nunique()) if len(rows) else 0,
        "labelled_customers": int(labelled["account_id"].nunique()) if len(labelled) else 0,
        "churned_accounts": int(labelled.loc[labelled["churned"], "account_id"].nunique()) if len(labelled) else 0,
        "states": states,
        "at_risk_predicts_churn": bool(predicts),
        "note": _note(risky, healthy, predicts, int(np.sum([s["churned"] for s in states]))),
    }


def _note(risky: dict, healthy: dict, predicts: bool, churned: int) -> str:
    if not churned:
        return "No customer churned within the window after a labelled day: churn by health state cannot be judged."
    if risky["rate"] is None or healthy["rate"] is None:
        return "Too few customers in at_risk or healthy on labelled days to compare their churn."
    verdict = "predicts churn: its interval lies above healthy's" if predicts else "does not separate from healthy yet"
    return (
        f"at_risk churned {100 * risky['rate']:.0f}% ({risky['churned']} of {risky['accounts']}) against healthy "
        f"{100 * healthy['rate']:.0f}% ({healthy['churned']} of {healthy['accounts']}): at_risk {verdict}."
    )
