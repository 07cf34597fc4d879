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
    return backtest_lines(side_a, side_b, moved, len(ends), [b.name for b in current.bands], start, end, first, horizon)


def _table(rows: list[list[str]]) -> list[str]:
    """Rows as text columns: the first left-aligned, the others right-aligned, each as wide as it needs."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  " + "   ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
        for row in rows
    ]


def backtest_lines(
    side_a: BacktestSide,
    side_b: BacktestSide,
    moved: pd.DataFrame,
    compared: int,
    bands: list[str],
    start: date,
    end: date,
    first: date,
    horizon: int,
) -> list[str]:
    """The backtest as a person reads it: one aligned table, bands in the config's order (cold to
    very hot), the accounts changing band as a current-by-candidate table in the same order, and a
    warning when both configs carry the same version (their scores could not be told apart)."""

    def auc(side: BacktestSide) -> str:
        return "n/a (one class only)" if side.auc is None else f"{side.auc:.3f}"

    def label(band: str) -> str:
        return band.replace("_", " ")

    rows = [["", "current", "candidate"], ["config version", side_a.version, side_b.version]]
    rows += [
        [f"accounts {label(b)} on {end}", f"{side_a.bands.get(b, 0):,}", f"{side_b.bands.get(b, 0):,}"] for b in bands
    ]
    rows += [
        [f"prospects {label(b)} share", f"{side_a.shares.get(b, 0.0):.1%}", f"{side_b.shares.get(b, 0.0):.1%}"]
        for b in bands
    ]
    rows += [
        ["ROC AUC", auc(side_a), auc(side_b)],
        ["labelled account-days", f"{side_a.labelled:,}", f"{side_b.labelled:,}"],
        ["  of which won", f"{side_a.positives:,}", f"{side_b.positives:,}"],
    ]
    lines = [f"Backtest {start} .. {end} (replayed from {first}; outcome: won within {horizon} days)"]
    if side_a.version == side_b.version:
        lines.append(
            f"  warning: both configs have version {side_a.version!r}: score rows stamped with it could not be told "
            "apart; give the candidate its own version before adopting it"
        )
    lines += _table(rows)
    lines.append(f"  accounts changing band between the configs on {end}: {len(moved):,} of {compared:,}")
    if len(moved):
        order = [b for b in bands if b in set(moved["band_a"]) | set(moved["band_b"])]
        counts = pd.crosstab(moved["band_a"], moved["band_b"]).reindex(index=order, columns=order, fill_value=0)
        matrix = [["current \\ candidate", *map(label, order)]]
        matrix += [[label(b), *(f"{int(n):,}" if n else "." for n in counts.loc[b])] for b in order]
        lines += _table(matrix)
    if side_a.labelled == 0:
        lines.append(
            f"  note: no score date before {end - timedelta(days=horizon)} is in range, so no outcome window has "
            "closed; AUC is not available"
        )
    return lines
