"""What the calibration report reads for month M, point in time and without leakage.

Rows are accounts as scored on each day D of the month (the published `account_score_history`),
prospects only (a customer has left the prospect ranking). Outcomes come from the CRM
opportunity snapshot of the report date (the latest published day R):

- `won`: an opportunity of the account closed won in (D, D + N],
- `created`: an opportunity of the account was created in (D, D + N],

with N = `calibration.outcome_window_days`. A row is *labelled* when its window has closed by R
(D + N <= R); otherwise its window is still *open* and it is reported apart, never as a negative.
Signal counts of a row use only the contributions of the days D - L + 1 .. D (L =
`calibration.signal_lookback_days`), i.e. what was known on the score date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
import sqlalchemy as sa

from include.scoring.core.config import ScoringConfig
from include.scoring.core.errors import PipelineError
from include.scoring.lake import catalog
from include.scoring.lake.store import Lake, days_between
from include.scoring.publish.tables import account_score_history, pipeline_runs
from include.scoring.publish.warehouse import read_table
from include.scoring.report.customers import label_churn
from include.scoring.report.months import parse_month

ROW_COLUMNS = ["account_id", "as_of", "score", "band", "lifecycle"]


class ReportIncomplete(PipelineError):
    """Some day of the report month has no published scores: the report is not computed."""


def _ranges(days: list[date]) -> str:
    """2026-10-03..2026-10-05, 2026-10-09: missing days, compactly."""
    out, start, prev = [], None, None
    for day in sorted(days) + [None]:
        if start is not None and (day is None or day != prev + timedelta(days=1)):
            out.append(start.isoformat() if start == prev else f"{start}..{prev}")
            start = None
        if day is not None and start is None:
            start = day
        prev = day
    return ", ".join(out)


def check_complete(warehouse_url: str, month: str) -> date:
    """Every day of the month has published scores and a pipeline_runs row; returns the report
    date (the latest published day). Raises ReportIncomplete listing the missing days."""
    first, last = parse_month(month)
    history = read_table(
        warehouse_url,
        sa.select(account_score_history.c.as_of).where(account_score_history.c.as_of.between(first, last)).distinct(),
    )
    runs = read_table(warehouse_url, sa.select(pipeline_runs.c.day).where(pipeline_runs.c.day.between(first, last)))
    latest = read_table(warehouse_url, sa.select(sa.func.max(pipeline_runs.c.day).label("day")))
    scored = set(pd.to_datetime(history["as_of"]).dt.date) if len(history) else set()
    ran = set(pd.to_datetime(runs["day"]).dt.date) if len(runs) else set()
    missing = [d for d in days_between(first, last) if d not in scored or d not in ran]
    if missing:
        raise ReportIncomplete(
            f"calibration report for {month}: {len(missing)} of {(last - first).days + 1} day(s) have no published "
            f"scores: {_ranges(missing)}. "
            f"Publish them first (python -m include.scoring run --start {missing[0]} --end {missing[-1]}, or "
            "backfill engagement_daily "
            f"over those days), then run the report again."
        )
    report_date = pd.to_datetime(latest["day"]).dt.date.iloc[0]
    return report_date


@dataclass
class MonthData:
    month: str
    first: date
    last: date
    report_date: date
    window_days: int
    lookback_days: int
    #: every published account-day of the month (customers included): account_id, as_of, score, band, lifecycle
    scores: pd.DataFrame
    #: prospect account-days with outcome columns: won, created, labelled (window closed), won_so_far, created_so_far
    rows: pd.DataFrame
    #: per row of `rows` (same index): events of each signal in the lookback window up to the score date
    counts: pd.DataFrame
    #: customer account-days (account_id, as_of, health) with `labelled` and `churned` (report.customers)
    customers: pd.DataFrame
    #: bands on the last day of the previous month (None when that day is not published)
    prev_bands: pd.DataFrame | None
    prev_day: date
    #: won opportunities (ids) that fall in a labelled row's window: the outcomes the figures rest on
    won_outcomes: int
    created_outcomes: int

    @property
    def labelled(self) -> pd.DataFrame:
        return self.rows[self.rows["labelled"]]


def _history(warehouse_url: str, first: date, last: date) -> pd.DataFrame:
    h = account_score_history.c
    frame = read_table(
        warehouse_url,
        sa.select(h.account_id, h.as_of, h.score, h.band, h.lifecycle, h.health).where(h.as_of.between(first, last)),
    )
    frame["as_of"] = pd.to_datetime(frame["as_of"]).dt.date
    return frame.sort_values(["as_of", "account_id"], kind="stable").reset_index(drop=True)


def churn_days(warehouse_url: str, first: date, report_date: date) -> pd.Series:
    """Per account id: the first day from `first` to the report date its lifecycle reads `churned`."""
    h = account_score_history.c
    frame = read_table(
        warehouse_url,
        sa.select(h.account_id, sa.func.min(h.as_of).label("day"))
        .where(h.lifecycle == "churned", h.as_of.between(first, report_date))
        .group_by(h.account_id),
    )
    return pd.Series(pd.to_datetime(frame["day"]).dt.date.to_numpy(), index=frame["account_id"].to_numpy())


def opportunities_as_of(lake: Lake, report_date: date) -> pd.DataFrame:
    opps = lake.read_df(
        catalog.valid("crm/opportunities"),
        report_date,
        columns=["opportunity_id", "account_id", "created_at", "is_won", "closed_at"],
    )
    end = pd.Timestamp(report_date + timedelta(days=1), tz="UTC")  # what the CRM knew on the report date
    created = pd.to_datetime(opps["created_at"], utc=True)
    closed = pd.to_datetime(opps["closed_at"], utc=True)
    won = opps["is_won"].fillna(False).astype(bool) & closed.notna() & (closed < end)
    return pd.DataFrame(
        {
            "opportunity_id": opps["opportunity_id"],
            "account_id": opps["account_id"],
            "created_day": created.where(created < end).dt.date,
            "won_day": closed.where(won).dt.date,
        }
    )


def label_rows(
    scores: pd.DataFrame, opportunities: pd.DataFrame, window_days: int, report_date: date
) -> tuple[pd.DataFrame, int, int]:
    """Prospect rows with point-in-time outcomes (see the module docstring), and the number of
    distinct won / created opportunities that fall in a labelled row's window."""
    rows = scores[scores["lifecycle"] != "customer"].reset_index(drop=True)
    as_of = pd.to_datetime(rows["as_of"])
    window_end = as_of + pd.Timedelta(days=window_days)
    report = pd.Timestamp(report_date)
    rows = rows.assign(labelled=(window_end <= report).to_numpy())
    pairs = (
        rows[["account_id"]]
        .assign(row=np.arange(len(rows)), as_of=as_of, end=window_end)
        .merge(opportunities, on="account_id", how="inner")
    )
    outcomes = {}
    for kind, column in (("won", "won_day"), ("created", "created_day")):
        when = pd.to_datetime(pairs[column])
        inside = when.notna() & (when > pairs["as_of"]) & (when <= pairs["end"])
        known = inside & (when <= report)
        hit = np.zeros(len(rows), bool)
        hit[pairs.loc[known, "row"].to_numpy()] = True
        rows[kind] = hit.astype(int)
        rows[f"{kind}_so_far"] = hit  # outcomes already seen, whether or not the window has closed
        labelled_hit = known & rows["labelled"].to_numpy()[pairs["row"].to_numpy()]
        outcomes[kind] = int(pairs.loc[labelled_hit, "opportunity_id"].nunique())
    rows.loc[~rows["labelled"], ["won", "created"]] = 0
    return rows, outcomes["won"], outcomes["created"]


def signal_names(config: ScoringConfig) -> list[str]:
    return list(
        dict.fromkeys(
            [r.name for r in config.signals]
            + (["combination_bonus"] if config.points.combination_bonus.enabled else [])
        )
    )


def signal_labels(config: ScoringConfig) -> dict[str, str]:
    """How the report names each signal: the `label:` of one of its rules, else its name in words."""
    pair = " + ".join(s.replace("_", " ") for s in config.points.combination_bonus.signals)
    labels = {"combination_bonus": f"Combination bonus ({pair})"}
    for rule in config.signals:
        if rule.label and rule.name not in labels:
            labels[rule.name] = rule.label
    return {name: labels.get(name, name.replace("_", " ").capitalize()) for name in signal_names(config)}


def signal_counts(
    lake: Lake, rows: pd.DataFrame, signals: list[str], first: date, last: date, lookback: int
) -> pd.DataFrame:
    """Events per signal of each row's account in the `lookback` days up to and including its
    score date (duplicates that earned nothing are not counted again). Vectorised: each
    (day, account, signal) count is spread over the score days it is visible on."""
    table = lake.read_range(
        catalog.CONTRIBUTIONS,
        first - timedelta(days=lookback - 1),
        last,
        columns=["account_id", "signal", "adjustment"],
        add_day=True,
    )
    empty = pd.DataFrame(0, index=rows.index, columns=signals, dtype=np.int64)
    if table is None or table.num_rows == 0 or rows.empty:
        return empty
    contribs = table.to_pandas()
    contribs = contribs[(contribs["adjustment"] != "duplicate") | contribs["adjustment"].isna()]
    daily = contribs.groupby(["dt", "account_id", "signal"]).size().rename("n").reset_index()
    spread = daily.loc[daily.index.repeat(lookback)].reset_index(drop=True)
    spread["as_of"] = pd.to_datetime(spread["dt"]) + pd.to_timedelta(np.tile(np.arange(lookback), len(daily)), unit="D")
    spread = spread[(spread["as_of"] >= pd.Timestamp(first)) & (spread["as_of"] <= pd.Timestamp(last))]
    wide = spread.groupby(["account_id", "as_of", "signal"])["n"].sum().unstack("signal", fill_value=0)
    key = pd.MultiIndex.from_arrays([rows["account_id"], pd.to_datetime(rows["as_of"])])
    out = wide.reindex(key, fill_value=0).reindex(columns=signals, fill_value=0)
    out.index = rows.index
    return out.astype(np.int64)


def load_month(lake: Lake, config: ScoringConfig, warehouse_url: str, month: str, report_date: date) -> MonthData:
    """Everything the metrics need for `month` (check_complete first: it gives the report date)."""
    cal = config.calibration
    first, last = parse_month(month)
    scores = _history(warehouse_url, first, last)
    prev_day = first - timedelta(days=1)
    prev = _history(warehouse_url, prev_day, prev_day)
    rows, won, created = label_rows(
        scores, opportunities_as_of(lake, report_date), cal.outcome_window_days, report_date
    )
    counts = signal_counts(lake, rows, signal_names(config), first, last, cal.signal_lookback_days)
    customers = label_churn(
        scores.loc[scores["lifecycle"] == "customer", ["account_id", "as_of", "health"]],
        churn_days(warehouse_url, first, report_date),
        cal.outcome_window_days,
        report_date,
    )
    return MonthData(
        month,
        first,
        last,
        report_date,
        cal.outcome_window_days,
        cal.signal_lookback_days,
        scores,
        rows,
        counts,
        customers,
        prev[["account_id", "band"]] if len(prev) else None,
        prev_day,
        won,
        created,
    )
