"""Identity resolution measured against the generator's ground truth (`resolve --evaluate-against`).

Precision: of the events attached to an account, the share attached to their true account.
Recall: of the human events the SPEC's rules can resolve (the generator knows which: what each
person had revealed by that day), the share attached to their true account. Quarantined events
are out of both (they never reach resolve).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from include.scoring.lake import catalog
from include.scoring.lake.store import Lake, days_between


@dataclass
class Evaluation:
    start: date
    end: date
    attached: int
    correct: int
    resolvable: int
    recalled: int
    by_method: dict[str, tuple[int, int]] = field(default_factory=dict)
    misses: dict[str, int] = field(default_factory=dict)
    wrong_examples: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.correct / self.attached if self.attached else 1.0

    @property
    def recall(self) -> float:
        return self.recalled / self.resolvable if self.resolvable else 1.0

    def lines(self) -> list[str]:
        out = [
            f"Identity resolution vs ground truth, {self.start} to {self.end}",
            f"  precision {self.precision:.4f}  ({self.correct:,} of {self.attached:,} attached events on their true "
            "account)",
            f"  recall    {self.recall:.4f}  ({self.recalled:,} of {self.resolvable:,} rule-resolvable human events "
            "on their true account)",
            "  by method (correct / attached):",
        ]
        out += [
            f"    {m:<14} {c:>8,} / {a:<8,} {c / a if a else 1:.4f}" for m, (c, a) in sorted(self.by_method.items())
        ]
        if self.misses:
            out.append(
                "  resolvable events missed, by what happened to them: "
                + ", ".join(f"{k} {v:,}" for k, v in sorted(self.misses.items(), key=lambda kv: -kv[1]))
            )
        return out


def _truth(truth_dir: Path, start: date, end: date) -> pd.DataFrame:
    files = [truth_dir / "events" / f"{d.isoformat()}.parquet" for d in days_between(start - timedelta(days=1), end)]
    frames = [
        pd.read_parquet(f, columns=["event_id", "true_account_id", "kind", "resolvable"]) for f in files if f.exists()
    ]
    if not frames:
        raise FileNotFoundError(f"no ground truth under {truth_dir / 'events'} for {start}..{end}")
    return pd.concat(frames, ignore_index=True).drop_duplicates("event_id")


def evaluate_resolution(lake: Lake, truth_dir: str | Path, start: date, end: date) -> Evaluation:
    truth = _truth(Path(truth_dir), start, end).set_index("event_id")
    resolved = lake.read_range(catalog.RESOLVED, start, end, columns=["event_id", "account_id", "resolution_method"])
    unresolved = lake.read_range(catalog.UNRESOLVED, start, end, columns=["event_id", "reason"])
    filtered = lake.read_range(catalog.FILTERED, start, end, columns=["event_id", "reason"])
    res = (
        resolved.to_pandas()
        if resolved is not None
        else pd.DataFrame(columns=["event_id", "account_id", "resolution_method"])
    )
    res = res.join(truth, on="event_id", how="inner")
    res["ok"] = res["account_id"].astype(object) == res["true_account_id"].astype(object)
    ev = Evaluation(start, end, attached=len(res), correct=int(res["ok"].sum()), resolvable=0, recalled=0)
    for method, group in res.groupby("resolution_method"):
        ev.by_method[str(method)] = (int(group["ok"].sum()), len(group))
    seen = pd.concat(
        [
            res[["event_id"]].assign(outcome=res["ok"].map({True: "correct", False: "wrong_account"})),
            (unresolved.to_pandas() if unresolved is not None else pd.DataFrame(columns=["event_id", "reason"]))
            .rename(columns={"reason": "outcome"})
            .assign(outcome=lambda f: "unresolved:" + f["outcome"]),
            (filtered.to_pandas() if filtered is not None else pd.DataFrame(columns=["event_id", "reason"]))
            .rename(columns={"reason": "outcome"})
            .assign(outcome=lambda f: "filtered:" + f["outcome"]),
        ],
        ignore_index=True,
    ).join(truth, on="event_id", how="inner")
    # A CRM activity re-read within the late-arrival window is filtered as `duplicate` after the
    # day it was first resolved: each event counts once, by its best outcome.
    seen = (
        seen.assign(_best=(seen["outcome"] != "correct"))
        .sort_values(["event_id", "_best"], kind="stable")
        .drop_duplicates("event_id")
    )
    target = seen[seen["resolvable"].astype(bool) & (seen["kind"] == "human")]
    ev.resolvable = len(target)
    ev.recalled = int((target["outcome"] == "correct").sum())
    ev.misses = target.loc[target["outcome"] != "correct", "outcome"].value_counts().to_dict()
    wrong = res[~res["ok"]].head(10)
    ev.wrong_examples = [
        f"{r.event_id}: {r.resolution_method} -> {r.account_id}, truth {r.true_account_id}" for r in wrong.itertuples()
    ]
    return ev
