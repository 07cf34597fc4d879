"""Band edges from target shares: where the edges would have to be for each band to hold its
`calibration.band_target_shares` share of the prospects, compared with the current edges.

The proposal reads the prospects' scores on the month's last day (what the shares describe) and
puts each edge at the matching quantile, rounded to a whole point (strictly increasing). Bands do
not change scores, so "backtesting" the edges needs no replay: the same labelled account-days are
banded both ways and their shares and conversion compared. The change is a config diff of the
`bands:` section; nothing is applied.
"""

from __future__ import annotations

import difflib

import numpy as np
import pandas as pd
import yaml

from include.scoring.core.config import ScoringConfig
from include.scoring.report.metrics import wilson


def band_index(scores: np.ndarray, edges: list[float]) -> np.ndarray:
    """Index of the first band whose edge (max_score) the 2-decimal score does not exceed."""
    return np.searchsorted(np.asarray(edges, dtype=float), np.round(np.asarray(scores, dtype=float), 2), side="left")


def target_edges(scores: np.ndarray, config: ScoringConfig) -> list[float] | None:
    """max_score of every band but the last, so that the bands above hold their target shares."""
    targets = config.calibration.band_target_shares
    if not targets or len(scores) == 0:
        return None
    names = [b.name for b in config.bands]
    above = np.cumsum([targets[n] for n in names[:0:-1]])[::-1]  # share above each edge, lowest edge first
    edges, prev = [], -np.inf
    for share in above:
        edge = float(np.round(np.quantile(scores, 1 - share)))
        edge = max(edge, prev + 1)
        edges.append(edge)
        prev = edge
    return edges


def _summary(names: list[str], last_scores: np.ndarray, labelled: pd.DataFrame, edges: list[float]) -> list[dict]:
    on_last = np.bincount(band_index(last_scores, edges), minlength=len(names))
    idx = band_index(labelled["score"].to_numpy(dtype=float), edges)
    per = labelled.assign(_band=idx).groupby(["_band", "account_id"])["won"].max().groupby("_band")
    out = []
    for i, name in enumerate(names):
        n, k = (int(per.size().get(i, 0)), int(per.sum().get(i, 0)))
        lo, hi = wilson(k, n)
        out.append(
            {
                "band": name,
                "max_score": edges[i] if i < len(edges) else None,
                "prospect_share": float(on_last[i] / max(len(last_scores), 1)),
                "accounts": n,
                "won": k,
                "won_rate": k / n if n else None,
                "ci_low": lo,
                "ci_high": hi,
            }
        )
    return out


def _bands_yaml(config: ScoringConfig, edges: list[float]) -> list[str]:
    lines = ["bands:\n"]
    for i, band in enumerate(config.bands):
        edge = edges[i] if i < len(edges) else None
        edge = int(edge) if edge is not None and float(edge).is_integer() else edge
        rule = {"name": band.name, "max_score": edge, "next_action": band.next_action}
        lines.append(
            "  - " + yaml.safe_dump(rule, default_flow_style=True, sort_keys=False, width=10_000).strip() + "\n"
        )
    return lines


def band_thresholds(last_scores: np.ndarray, labelled: pd.DataFrame, config: ScoringConfig) -> dict:
    """Current and target-share edges, both configs' prospect shares and conversion, and the diff."""
    names = [b.name for b in config.bands]
    current = [float(b.max_score) for b in config.bands[:-1]]
    targets = config.calibration.band_target_shares
    if targets and (set(targets) != set(names[1:]) or sum(targets.values()) >= 1):
        return {
            "available": False,
            "note": "calibration.band_target_shares needs a share for each band but the lowest "
            f"({', '.join(names[1:])}), together below 1; got {targets}",
        }
    proposed = target_edges(last_scores, config)
    if proposed is None:
        return {"available": False, "note": "no band_target_shares in the config, or no prospect scored"}
    diff = "".join(
        difflib.unified_diff(
            _bands_yaml(config, current), _bands_yaml(config, proposed), "current bands", "bands for the target shares"
        )
    )
    return {
        "available": True,
        "targets": dict(config.calibration.band_target_shares),
        "current": _summary(names, last_scores, labelled, current),
        "proposed": _summary(names, last_scores, labelled, proposed),
        "changed": proposed != current,
        "diff": diff,
    }
