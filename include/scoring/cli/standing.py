"""Where an account stands and why, for `explain`: its percentile among the day's prospects, its
buying-group coverage, and (customers) its health with the figures behind it. Read from the lake
the score stage wrote: the score row, the state's weekly points and the daily points."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from include.scoring.core.config import ScoringConfig
from include.scoring.lake import catalog
from include.scoring.lake.store import Lake
from include.scoring.score.health import MIN_BASELINE_WEEKS, baseline_weeks


def standing_lines(lake: Lake, config: ScoringConfig, row: pd.Series, day: date) -> list[str]:
    window = config.accumulation.window_days
    lines = [
        f"  window: points count for {window} days after they were earned (accumulation.window_days)"
        if window
        else "  window: none (accumulation.window_days: null): points stay until a reset or decay takes them"
    ]
    if row["lifecycle"] == "customer":
        lines.append("  standing: a customer (not ranked among prospects)")
    elif pd.notna(row["engagement_percentile"]):
        lines.append(
            f"  standing: percentile {row['engagement_percentile']:.1f} among the day's prospects "
            "(the share of the other prospects scoring less)"
        )
    roles = config.buying_group.roles
    missing = [r for r in str(row["missing_roles"] or "").split(", ") if r]
    engaged = [r for r in roles if r not in missing]
    lines.append(
        f"  buying group: {len(engaged)} of {len(roles)} roles engaged in the last {config.buying_group.window_days} "
        f"days ({', '.join(engaged) or 'none'}); missing: {', '.join(missing) or 'none'}"
    )
    if row["lifecycle"] == "customer" and pd.notna(row["health"]):
        lines.append(f"  health: {row['health']} - {health_reason(lake, config, row, day)}")
    return lines


def health_reason(lake: Lake, config: ScoringConfig, row: pd.Series, day: date) -> str:
    """The figures behind a customer's health (health.py's rules, with this account's numbers)."""
    cfg = config.customer_health
    account = row["account_id"]
    state = lake.read_df(catalog.STATE, day, missing_ok=True)
    mine = state[state["account_id"] == account] if state is not None else pd.DataFrame()
    last_positive = mine["last_positive_day"].iloc[0] if len(mine) else None
    idle = (day - last_positive).days if last_positive is not None and pd.notna(last_positive) else None
    if row["health"] == "dormant":
        return (
            f"no person engaged with a positive signal for {idle} days" if idle is not None else "nobody ever engaged"
        ) + f" (dormant from {cfg.dormant_days})"
    recent = 0.0
    for offset in range(cfg.recent_days):
        points = lake.read_df(catalog.DAILY_POINTS, day - timedelta(days=offset), missing_ok=True)
        if points is not None:
            recent += float(points.loc[points["account_id"] == account, "points"].sum())
    metas = lake.part_metadata(catalog.STATE, day) or [{}]
    weeks, observed = baseline_weeks(day.toordinal(), cfg.recent_days, cfg.baseline_weeks, metas[0].get("first_week"))
    baseline = 0.0
    if len(mine):
        ring = np.asarray(mine["weekly_points"].iloc[0], dtype=float)
        baseline = float(ring[weeks % len(ring)].sum())
    expected = baseline / max(observed, 1) * cfg.recent_days / 7
    figures = f"{recent:.1f} points in the last {cfg.recent_days} days"
    if observed < MIN_BASELINE_WEEKS or baseline <= 0:
        figures += " (no baseline yet: too little history before them)"
    else:
        figures += (
            f" against a baseline of {expected:.1f} (mean weekly points over {observed} week(s) before them); "
            f"at risk below {cfg.at_risk_ratio:.0%} of it"
        )
    if row["health"] == "expanding":
        return f"new people engaging or a surge (surge: {'yes' if row['surge'] else 'no'}); {figures}"
    return figures
