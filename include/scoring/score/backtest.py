"""Backtest: re-score history under another config and compare it with the current one.

Both configs are replayed in memory over every day with resolved events up to the end date (the
lake is not written), then compared on [start, end]: band counts, accounts whose band differs,
and ROC AUC of the score against "an opportunity is won within N days after the score date".
Only score dates whose N-day window has closed by the end date count as labelled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd
from sklearn.metrics import roc_auc_score

from include.scoring.core.config import ScoringConfig
from include.scoring.core.errors import UsageError
from include.scoring.lake import catalog
from include.scoring.lake.store import Lake, days_between
from include.scoring.score.replay import run_days


@dataclass
class BacktestSide:
    version: str
    bands: dict[str, int]
    shares: dict[str, float]  # share of the prospects per band on the end date (band health)
    auc: float | None
    labelled: int
    positives: int


def replay_scores(lake: Lake, config: ScoringConfig, first: date, end: date) -> pd.DataFrame:
    """Scores of every day first..end under `config`, computed in memory from resolved events."""
    frames = [
        scores[["account_id", "as_of", "score", "band", "lifecycle"]]
        for _, _, scores in run_days(lake, config, days_between(first, end), None, write=False, keep_scores=True)
    ]
    return pd.concat(frames, ignore_index=True)


def won_within(scores: pd.DataFrame, opportunities: pd.DataFrame, horizon: int, known_until: date) -> pd.DataFrame:
    """Label (account, day) rows: 1 when an opportunity of the account closed won within
    (day, day + horizon]; only rows whose window ended by `known_until` are kept."""
    won = opportunities[opportunities["is_won"].fillna(False).astype(bool)].copy()
    won["won_day"] = pd.to_datetime(won["closed_at"], utc=True).dt.date
    rows = scores[scores["lifecycle"] != "customer"].copy()
    rows = rows[rows["as_of"].map(lambda d: d + timedelta(days=horizon) <= known_until)]
    if rows.empty:
        return rows.assign(label=pd.Series(dtype=int))
    merged = (
        rows[["account_id", "as_of"]].reset_index().merge(won[["account_id", "won_day"]], on="account_id", how="left")
    )
    hit = (merged["won_day"] > merged["as_of"]) & (
        merged["won_day"] <= merged["as_of"].map(lambda d: d + timedelta(days=horizon))
    )
    labels = hit.groupby(merged["index"]).any()
    return rows.assign(label=labels.reindex(rows.index).fillna(False).astype(int).to_numpy())


def _side(
    scores: pd.DataFrame, config: ScoringConfig, opportunities: pd.DataFrame, start: date, end: date, horizon: int
) -> BacktestSide:
    window = scores[(scores["as_of"] >= start) & (scores["as_of"] <= end)]
    at_end = window[window["as_of"] == end]
    names = [b.name for b in config.bands]
    bands = at_end["band"].value_counts().reindex(names, fill_value=0).to_dict()
    prospects = at_end[at_end["lifecycle"] != "customer"]["band"].value_counts().reindex(names, fill_value=0)
    shares = (prospects / max(int(prospects.sum()), 1)).to_dict()
    labelled = won_within(window, opportunities, horizon, end)
    auc = None
    if labelled["label"].nunique() == 2:
        auc = float(roc_auc_score(labelled["label"], labelled["score"]))
    return BacktestSide(config.version, bands, shares, auc, len(labelled), int(labelled["label"].sum()))


def backtest(
    lake: Lake, current: ScoringConfig, candidate: ScoringConfig, start: date, end: date, horizon: int = 90
) -> list[str]:
    history = [d for d in lake.days(catalog.RESOLVED) if d <= end]
    if not history or start > end:
        raise UsageError(f"nothing to backtest: no resolved days up to {end} (or --start after --end)")
    first = history[0]
    a = replay_scores(lake, current, first, end)
    b = replay_scores(lake, candidate, first, end)
    opportunities = lake.read_df(catalog.valid("crm/opportunities"), end, columns=["account_id", "is_won", "closed_at"])
    side_a = _side(a, current, opportunities, start, end, horizon)
    side_b = _side(b, candidate, opportunities, start, end, horizon)
    ends = a[a["as_of"] == end][["account_id", "band"]].merge(
        b[b["as_of"] == end][["account_id", "band"]], on="account_id", suffixes=("_a", "_b")
    )
    moved = ends[ends["band_a"] != ends["band_b"]]
    width = max(len(side_a.version), len(side_b.version), 12)
    auc = lambda s: "n/a (one class only)" if s.auc is None else f"{s.auc:.3f}"  # noqa: E731
    lines = [
        f"Backtest {start} .. {end} (replayed from {first}; outcome: won within {horizon} days)",
        f"  {'':<22} {'current':>{width}}   {'candidate':>{width}}",
        f"  {'config version':<22} {side_a.version:>{width}}   {side_b.version:>{width}}",
    ]
    for band in side_a.bands:
        lines.append(
            f"  {'accounts ' + band + ' on ' + end.isoformat():<22} {side_a.bands[band]:>{width},}   "
            f"{side_b.bands.get(band, 0):>{width},}"
        )
    for band in side_a.shares:
        lines.append(
            f"  {'prospects ' + band + ' share':<22} {side_a.shares[band]:>{width}.1%}   "
            f"{side_b.shares.get(band, 0.0):>{width}.1%}"
        )
    lines += [
        f"  {'ROC AUC':<22} {auc(side_a):>{width}}   {auc(side_b):>{width}}",
        f"  {'labelled account-days':<22} {side_a.labelled:>{width},}   {side_b.labelled:>{width},}",
        f"  {'  of which won':<22} {side_a.positives:>{width},}   {side_b.positives:>{width},}",
        f"  accounts changing band between the configs on {end}: {len(moved):,} of {len(ends):,}",
    ]
    if len(moved):
        matrix = pd.crosstab(moved["band_a"], moved["band_b"])
        lines += ["  (rows: current band, columns: candidate band)"] + [
            "    " + line for line in matrix.to_string().splitlines()
        ]
    if side_a.labelled == 0:
        lines.append(
            f"  note: no score date before {end - timedelta(days=horizon)} is in range, so no outcome window has "
            "closed; AUC is not available"
        )
    return lines
