"""The report's figures: bands and migration, conversion by band, signal lift, ROC AUC, thresholds.

Rows (account-days) of one account are not independent, so every interval resamples *accounts*
(a cluster bootstrap) or counts accounts (conversion by band: Wilson intervals on accounts).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score, roc_curve
from statsmodels.stats.proportion import proportion_confint

from include.scoring.core.config import ScoringConfig


def _f(value) -> float | None:
    """A JSON-safe float: None for NaN and infinities."""
    if value is None:
        return None
    value = float(value)
    return value if np.isfinite(value) else None


def band_names(config: ScoringConfig) -> list[str]:
    return [b.name for b in config.bands]


def band_distribution(scores: pd.DataFrame, day, config: ScoringConfig) -> list[dict]:
    """Accounts per band on `day` (customers counted in their band and also apart); `prospect_share`
    is the band's share of the day's prospects (what `bands_max_share` limits)."""
    today = scores[scores["as_of"] == day]
    total = max(len(today), 1)
    prospects = today["lifecycle"] != "customer"
    out = []
    for band in band_names(config):
        in_band = today["band"] == band
        out.append(
            {
                "band": band,
                "accounts": int(in_band.sum()),
                "customers": int((in_band & ~prospects).sum()),
                "share": int(in_band.sum()) / total,
                "prospect_share": int((in_band & prospects).sum()) / max(int(prospects.sum()), 1),
            }
        )
    return out


def migration(prev: pd.DataFrame | None, now: pd.DataFrame, config: ScoringConfig) -> dict:
    """Band on the last day of the previous month (rows) against the last day of this month."""
    bands = band_names(config)
    if prev is None:
        return {
            "available": False,
            "bands": bands,
            "matrix": [],
            "moved_up": 0,
            "moved_down": 0,
            "stayed": 0,
            "new_accounts": len(now),
        }
    pairs = prev.merge(now[["account_id", "band"]], on="account_id", how="right", suffixes=("_from", "_to"))
    known = pairs[pairs["band_from"].notna()]
    matrix = pd.crosstab(
        pd.Categorical(known["band_from"], bands), pd.Categorical(known["band_to"], bands), dropna=False
    )
    rank = {b: i for i, b in enumerate(bands)}
    step = known["band_to"].map(rank) - known["band_from"].map(rank)
    return {
        "available": True,
        "bands": bands,
        "matrix": matrix.to_numpy().astype(int).tolist(),
        "moved_up": int((step > 0).sum()),
        "moved_down": int((step < 0).sum()),
        "stayed": int((step == 0).sum()),
        "new_accounts": int(pairs["band_from"].isna().sum()),
    }


def wilson(k: int, n: int) -> tuple[float | None, float | None]:
    if n == 0:
        return None, None
    lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson")
    return float(lo), float(hi)


def conversion_by_band(labelled: pd.DataFrame, config: ScoringConfig) -> list[dict]:
    """Per band: accounts seen in the band on a labelled day, and how many of them created an
    opportunity / closed won within the window after such a day (Wilson 95% intervals)."""
    out = []
    for band in band_names(config):
        per_account = labelled[labelled["band"] == band].groupby("account_id")[["created", "won"]].max()
        n = len(per_account)
        entry = {"band": band, "accounts": n}
        for kind in ("created", "won"):
            k = int(per_account[kind].sum())
            lo, hi = wilson(k, n)
            entry[kind] = {"accounts": k, "rate": k / n if n else None, "ci_low": lo, "ci_high": hi}
        out.append(entry)
    return out


def bootstrap_weights(accounts: pd.Series, samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial resampling of accounts: (samples x accounts) counts, and each row's account index."""
    codes, uniques = pd.factorize(accounts)
    if len(uniques) == 0:
        return np.zeros((samples, 0), dtype=np.int64), codes
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(len(uniques), np.full(len(uniques), 1 / max(len(uniques), 1)), size=samples)
    return weights, codes


def signal_lift(
    labelled: pd.DataFrame, counts: pd.DataFrame, weights: np.ndarray, codes: np.ndarray, min_accounts: int
) -> list[dict]:
    """Lift of each signal for closed won: won rate of account-days whose account had the signal
    in the lookback window over the rate of those without it, with a 95% account-bootstrap
    interval. Signals seen at fewer than `min_accounts` accounts are marked too rare and listed last."""
    if labelled.empty:
        return [
            {
                "signal": name,
                "accounts_with": 0,
                "account_days_with": 0,
                "won_rate_with": None,
                "won_rate_without": None,
                "lift": None,
                "ci_low": None,
                "ci_high": None,
                "too_rare": True,
                "rank": i,
            }
            for i, name in enumerate(counts.columns, start=1)
        ]
    had = (counts.loc[labelled.index].to_numpy() > 0).astype(float)
    y = labelled["won"].to_numpy(dtype=float)
    n_acc = weights.shape[1]
    per = lambda values: np.bincount(codes, weights=values, minlength=n_acc)  # noqa: E731 - per-account sums
    n_with = np.stack([per(had[:, s]) for s in range(had.shape[1])], axis=1)
    y_with = np.stack([per(had[:, s] * y) for s in range(had.shape[1])], axis=1)
    n_all, y_all = per(np.ones_like(y)), per(y)
    accounts_with = (n_with > 0).sum(axis=0)

    def lift(w: np.ndarray) -> np.ndarray:
        nw, yw = w @ n_with, w @ y_with
        nn, yn = (w @ n_all)[..., None] - nw, (w @ y_all)[..., None] - yw
        with np.errstate(divide="ignore", invalid="ignore"):
            return (yw / nw) / (yn / nn)

    point = lift(np.ones(n_acc))
    boot = lift(weights.astype(float))
    out = []
    for s, name in enumerate(counts.columns):
        draws = boot[:, s][np.isfinite(boot[:, s])]
        rows_with = int(had[:, s].sum())
        with np.errstate(divide="ignore", invalid="ignore"):
            rate_with = y[had[:, s] > 0].mean() if rows_with else np.nan
            rate_without = y[had[:, s] == 0].mean() if rows_with < len(y) else np.nan
        enough = int(accounts_with[s]) >= min_accounts
        out.append(
            {
                "signal": name,
                "accounts_with": int(accounts_with[s]),
                "account_days_with": rows_with,
                "won_rate_with": _f(rate_with),
                "won_rate_without": _f(rate_without),
                "lift": _f(point[s]),
                "ci_low": _f(np.percentile(draws, 2.5)) if len(draws) >= 20 and enough else None,
                "ci_high": _f(np.percentile(draws, 97.5)) if len(draws) >= 20 and enough else None,
                "too_rare": not enough,
            }
        )
    out.sort(key=lambda e: (e["too_rare"], e["lift"] is None, -(e["lift"] or 0.0), e["signal"]))
    for rank, entry in enumerate(out, start=1):
        entry["rank"] = rank
    return out


def score_auc(labelled: pd.DataFrame, weights: np.ndarray, codes: np.ndarray) -> dict:
    """ROC AUC of the score for closed won, with a 95% account-bootstrap interval, and the curve."""
    y = labelled["won"].to_numpy()
    s = labelled["score"].to_numpy(dtype=float)
    if len(np.unique(y)) < 2:
        return {"value": None, "ci_low": None, "ci_high": None, "curve": None}
    draws = []
    for w in weights:
        rw = w[codes].astype(float)
        yb = y[rw > 0]
        if len(np.unique(yb)) == 2:
            draws.append(roc_auc_score(y, s, sample_weight=rw))
    fpr, tpr, _ = roc_curve(y, s)
    return {
        "value": float(roc_auc_score(y, s)),
        "ci_low": _f(np.percentile(draws, 2.5)) if draws else None,
        "ci_high": _f(np.percentile(draws, 97.5)) if draws else None,
        "curve": {"fpr": fpr.round(4).tolist(), "tpr": tpr.round(4).tolist()},
    }


def _prf(y: np.ndarray, predicted: np.ndarray) -> dict:
    tp = int((predicted & (y == 1)).sum())
    fp = int((predicted & (y == 0)).sum())
    fn = int((~predicted & (y == 1)).sum())
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    f1 = 2 * precision * recall / (precision + recall) if precision and recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "flagged_account_days": tp + fp, "true_positives": tp}


def thresholds(labelled: pd.DataFrame, config: ScoringConfig) -> dict:
    """Precision, recall and F1 of "score above the threshold" for closed won, at each alert
    threshold, and the whole-point threshold with the best F1 (the suggested one)."""
    y = labelled["won"].to_numpy()
    s = np.round(labelled["score"].to_numpy(dtype=float), 2)
    current = [
        {"threshold": float(rule.threshold), "recipient": rule.recipient, **_prf(y, s > rule.threshold)}
        for rule in config.alerts.thresholds
    ]
    best = None
    top = int(np.ceil(s.max())) if len(s) else 0
    for t in range(0, top + 1):
        entry = {"threshold": float(t), **_prf(y, s > t)}
        if best is None or entry["f1"] > best["f1"]:
            best = entry
    return {"alerts": current, "suggested": best if best and best["f1"] > 0 else None}
