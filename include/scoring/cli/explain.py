"""Why an account has its score: `python -m include.scoring explain --account ID --date D`.

Everything comes from the lake: the score row, the ledger in state/dt=D (points by signal and by
person, after multipliers, caps, resets and decay), the resets and band changes, and the recent
contributions with the events behind them.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from include.scoring.cli.standing import standing_lines
from include.scoring.core.config import ScoringConfig
from include.scoring.core.errors import LakeError, UsageError
from include.scoring.lake import catalog
from include.scoring.lake.store import Lake

ARROWS = {"up": "\u2191", "down": "\u2193", "flat": "\u2192"}


def _score_row(lake: Lake, account: str, day: date) -> pd.Series:
    scores = lake.read_df(catalog.SCORES, day)
    rows = scores[scores["account_id"] == account]
    if rows.empty:
        close = scores[
            scores["account_id"].str.contains(account, case=False, regex=False)
            | scores["account_name"].str.contains(account, case=False, regex=False)
        ]
        hint = (
            f" Did you mean: {', '.join(f'{r.account_id} ({r.account_name})' for r in close.head(5).itertuples())}?"
            if len(close)
            else ""
        )
        raise UsageError(f"account {account!r} has no score on {day}.{hint}")
    return rows.iloc[0]


def person_labels(lake: Lake, account: str, day: date, lookback: int = 90) -> dict[str, str]:
    """person_key -> 'contact C-1 (role)' from the account's resolved events of recent days."""
    frames = []
    for d in (day - timedelta(days=k) for k in range(lookback)):
        table = lake.read(
            catalog.RESOLVED, d, columns=["account_id", "person_key", "contact_id", "role"], missing_ok=True
        )
        if table is not None:
            frame = table.to_pandas()
            frames.append(frame[(frame["account_id"] == account) & frame["person_key"].notna()])
    if not frames:
        return {}
    people = pd.concat(frames).drop_duplicates("person_key")
    out = {}
    for row in people.itertuples():
        if pd.notna(row.contact_id):
            out[row.person_key] = f"contact {row.contact_id}" + (f" ({row.role})" if pd.notna(row.role) else "")
        else:
            out[row.person_key] = "anonymous or unknown person"
    return out


def ledger(lake: Lake, account: str, day: date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Points by signal and by person for the account's accumulated score on `day`."""
    if not lake.exists(catalog.STATE, day):
        raise LakeError(
            f"no scoring state for {day} in the lake; score that day first (python -m include.scoring score --date "
            f"{day})"
        )
    signals = lake.read_df(catalog.STATE_LEDGER, day, missing_ok=True)
    persons = lake.read_df(catalog.STATE_PERSONS, day, missing_ok=True)
    signals = signals[(signals["account_id"] == account) & (signals["points"].abs() > 1e-9)].sort_values(
        "points", ascending=False
    )
    persons = persons[(persons["account_id"] == account) & (persons["points"].abs() > 1e-9)].sort_values(
        "points", ascending=False
    )
    return signals, persons


def explain_lines(lake: Lake, config: ScoringConfig, account: str, day: date) -> list[str]:
    row = _score_row(lake, account, day)
    signals, persons = ledger(lake, account, day)
    labels = person_labels(lake, account, day)
    touch = (
        "never"
        if pd.isna(row["last_touch_at"])
        else f"{pd.Timestamp(row['last_touch_at']):%Y-%m-%d %H:%M} UTC, {row['last_touch_signal']}"
    )
    since = "" if pd.isna(row["days_since_engagement"]) else f" ({int(row['days_since_engagement'])} day(s) ago)"
    lines = [
        f"{row['account_name']} ({account}) on {day}: score {row['score']:.2f}, "
        f"{str(row['band']).replace('_', ' ').upper()}  (config {row['config_version']})",
        f"  next action: {row['next_action']}   lifecycle: {row['lifecycle']}   ABM tier: "
        f"{'-' if pd.isna(row['abm_tier']) else int(row['abm_tier'])}   owner: {row['owner_email']}",
        f"  score = accumulated {row['accumulated']:.2f} + breadth {row['breadth']:.2f} "
        f"({int(row['engaged_people'])} people engaged in the breadth window, {int(row['new_people_14d'])} "
        "new)",
        f"  trend: {row['trend']} {ARROWS.get(row['trend'], '')} ({row['change_7d']:+.2f} over 7 days, "
        f"{row['change_28d']:+.2f} over 28 days); surge: {'YES' if row['surge'] else 'no'}",
        f"  last touch: {touch}{since}",
        *standing_lines(lake, config, row, day),
        "",
        "  Points by signal (accumulated, after role multipliers, de-duplication, caps, resets and decay)",
    ]
    lines += [f"    {r.signal:<30} {r.points:>9.2f}" for r in signals.itertuples()] or ["    (none)"]
    residual = row["accumulated"] - signals["points"].sum()
    if abs(residual) > 0.005:
        lines.append(f"    {'(rounding)':<30} {residual:>9.2f}")
    lines += ["", "  Points by person (people active in the last months)"]
    lines += [
        f"    {labels.get(r.person_key, 'person')[:40]:<40} {r.person_key}  {r.points:>9.2f}  last active "
        f"{pd.Timestamp(r.last_positive_at):%Y-%m-%d}"
        for r in persons.itertuples()
    ] or ["    (none)"]
    changes = lake.read_range(catalog.CHANGES, day - timedelta(days=180), day)
    if changes is not None:
        mine = changes.to_pandas()
        kinds = ["reset", "band_change", "health_change", "alert"]
        mine = mine[(mine["account_id"] == account) & mine["kind"].isin(kinds)].sort_values("as_of")
        lines += ["", "  Resets, band and health changes, alerts (last 180 days)"]
        lines += [
            f"    {r.as_of}  {r.kind:<13} {r.rule:<15} {r.before} -> {r.after}"
            + (f"  to {r.recipient}" if isinstance(r.recipient, str) else "")
            for r in mine.itertuples()
        ] or ["    (none)"]
    recent = lake.read_range(catalog.CONTRIBUTIONS, day - timedelta(days=6), day)
    if recent is not None:
        mine = recent.to_pandas()
        mine = mine[(mine["account_id"] == account) & (mine["points"] > 0)].sort_values("event_time")
        lines += ["", "  Contributions of the last 7 days"]
        lines += [
            f"    {pd.Timestamp(r.event_time):%Y-%m-%d %H:%M}  {r.source:<5} {r.signal:<28} {r.points:>6.2f}  "
            f"{r.event_id}"
            for r in mine.tail(25).itertuples()
        ] or ["    (none)"]
    return lines
