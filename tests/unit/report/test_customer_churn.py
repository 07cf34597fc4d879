"""Customers' churn by health state: point-in-time (the churn after the day, within the window,
known by the report date) and counted per account, with intervals."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from include.scoring.report.customers import churn_by_health, label_churn


def _customers(n: int, health: str, prefix: str) -> pd.DataFrame:
    days = [date(2026, 8, d) for d in range(1, 11)]
    return pd.DataFrame([{"account_id": f"{prefix}{i}", "as_of": d, "health": health} for i in range(n) for d in days])


def test_at_risk_customers_that_churn_are_told_apart_from_healthy_ones():
    rows = pd.concat([_customers(20, "at_risk", "R"), _customers(40, "healthy", "H")], ignore_index=True)
    churn = pd.Series(
        {f"R{i}": date(2026, 9, 15) for i in range(12)}  # 12 of 20 at-risk customers churn
        | {"H0": date(2026, 9, 20)}  # one healthy one does
        | {"H1": date(2027, 3, 1)}  # after the window: not within it
        | {"H2": date(2026, 8, 5)}  # churned on day 5: counts for the days before it only
    )
    labelled = label_churn(rows, churn, window_days=60, report_date=date(2026, 11, 20))
    assert labelled["labelled"].all()
    h2 = labelled[labelled["account_id"] == "H2"].set_index("as_of")["churned"]
    assert h2.to_dict() == {d: d < date(2026, 8, 5) for d in h2.index}
    result = churn_by_health(labelled)
    by = {s["health"]: s for s in result["states"]}
    assert (by["at_risk"]["accounts"], by["at_risk"]["churned"]) == (20, 12)
    assert (by["healthy"]["accounts"], by["healthy"]["churned"]) == (40, 2)
    assert by["dormant"] == {
        "health": "dormant",
        "accounts": 0,
        "churned": 0,
        "rate": None,
        "ci_low": None,
        "ci_high": None,
    }
    assert result["at_risk_predicts_churn"] and by["at_risk"]["ci_low"] > by["healthy"]["ci_high"]
    assert result["churned_accounts"] == 14 and "at_risk predicts churn" in result["note"]


def test_open_windows_do_not_count_and_no_churn_says_so():
    rows = _customers(5, "at_risk", "R")
    churn = pd.Series({"R0": date(2026, 8, 20)})
    labelled = label_churn(rows, churn, window_days=90, report_date=date(2026, 8, 31))
    assert not labelled["labelled"].any()
    result = churn_by_health(labelled)
    assert result["labelled_customers"] == 0 and result["churned_accounts"] == 0
    assert "cannot be judged" in result["note"]
    assert churn_by_health(label_churn(rows, pd.Series(dtype=object), 30, date(2026, 8, 1) + timedelta(days=60)))[
        "note"
    ].startswith("No customer churned")
