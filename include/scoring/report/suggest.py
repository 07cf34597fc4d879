"""Suggested point values from the data, as a config diff for human review (never applied).

An L2-regularised logistic regression of "closed won within the window" on each account-day's
per-signal event counts (the lookback window up to the score date) is fitted on a training share
of the accounts, each account weighted once (its days share one unit of weight). A coefficient
is the log-odds one more event of the signal is worth, which is what points are on the score's
scale: the strongest positive coefficient maps to the top tier's points, negative ones to 0, and
each signal takes the tier whose points are nearest. The suggested config is then replayed over
history (backtest.replay_scores, breadth and every other rule included) and compared with the
current one by ROC AUC on the held-out accounts only.

The data only speaks where it has seen a signal, so the fit is guarded (`guard_tier`):
- a signal seen at fewer than `calibration.min_signal_accounts` labelled accounts keeps its points
  ("not judged (seen in N accounts)"): a rare signal is not a useless one;
- a signal whose lift interval lies above 1 is never lowered, one whose interval lies below 1 is
  never raised.
Stability: the fit is repeated on bootstrap resamples of the training accounts; each signal's
`stability` is the share of resamples that move it the same way (up, down or not at all). The
suggestion is recommended only when every change is stable and the held-out AUC gain's 95%
interval (a paired account bootstrap) lies above 0.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from include.scoring.core.config import DEFAULT_CONFIG_PATH, ScoringConfig, parse_config
from include.scoring.lake import catalog
from include.scoring.lake.store import Lake
from include.scoring.report.data import label_rows, opportunities_as_of
from include.scoring.score.backtest import replay_scores


@dataclass
class Suggestion:
    available: bool
    note: str = ""
    #: per signal: current points, fitted points (0..top tier, unrounded), current and suggested tier
    signals: list[dict] = field(default_factory=list)
    changes: dict[str, int] = field(default_factory=dict)
    train_accounts: int = 0
    holdout_accounts: int = 0
    backtest: dict = field(default_factory=dict)
    yaml_text: str = ""
    diff: str = ""
    #: adopt? only when every change is stable and the held-out AUC gain's interval is above 0
    recommended: bool = False
    verdict: str = ""


def split_accounts(accounts: pd.Series, holdout_share: float, seed: int) -> set:
    """A deterministic hold-out set of accounts (sorted ids, seeded permutation)."""
    ids = np.array(sorted(pd.unique(accounts)), dtype=object)
    order = np.random.default_rng(seed).permutation(len(ids))
    return set(ids[order[: max(1, round(holdout_share * len(ids)))]])


#: a change is stable when at least this share of the bootstrap refits moves the signal the same way
STABLE_SHARE = 0.8
#: bootstrap refits of the suggestion (stability) and resamples of the held-out AUC gain
STABILITY_SAMPLES = 40
GAIN_SAMPLES = 300


def fit_points(
    labelled: pd.DataFrame,
    counts: pd.DataFrame,
    config: ScoringConfig,
    train: pd.Series,
    weight: np.ndarray | None = None,
) -> tuple[dict[str, float], str]:
    """Fitted points per signal (0..top tier) from the training rows, for the signals that vary in
    them; ({}, why) when it cannot fit. `weight`: per training row (default: each account once)."""
    fit_signals = [s for s in counts.columns if s not in config.reset_signals() and s != "combination_bonus"]
    x = counts.loc[labelled.index, fit_signals].to_numpy(dtype=float)[train.to_numpy()]
    y = labelled["won"].to_numpy()[train.to_numpy()]
    if weight is None:
        accounts = labelled["account_id"][train]
        weight = (1.0 / accounts.map(accounts.value_counts())).to_numpy()  # each account once, however many days
    keep = weight > 0
    x, y, weight = x[keep], y[keep], weight[keep]
    if len(np.unique(y)) < 2:
        return {}, "the training accounts hold no closed-won outcome (or nothing else)"
    scale = x.std(axis=0)
    usable = scale > 0
    model = LogisticRegression(C=config.calibration.regularisation_c, max_iter=5000)
    model.fit(x[:, usable] / scale[usable], y, sample_weight=weight)
    coef = np.zeros(len(fit_signals))
    coef[usable] = model.coef_[0] / scale[usable]  # log-odds per event, back on the count scale
    top = coef.max()
    if top <= 0:
        return {}, "no signal has a positive association with closed won in the training accounts"
    top_points = max(config.tiers.values())
    return {s: float(np.clip(c / top, 0, 1) * top_points) for s, c, u in zip(fit_signals, coef, usable) if u}, ""


def nearest_tier(points: float, config: ScoringConfig) -> int:
    tiers = sorted(config.tiers.items(), key=lambda kv: (abs(kv[1] - points), kv[0]))
    return int(tiers[0][0])


def guard_tier(current: int, fitted: float | None, lift: dict | None, config: ScoringConfig) -> tuple[int, str]:
    """The suggested tier of one signal and why it is what it is ("" when the fit decides):
    unjudged signals keep their tier, and no tier moves against a lift interval that excludes 1."""
    min_accounts = config.calibration.min_signal_accounts
    seen = lift["accounts_with"] if lift else 0
    if lift is None or lift["too_rare"] or seen < min_accounts or fitted is None:
        return current, f"not judged (seen in {seen} accounts)"
    tier = nearest_tier(fitted, config)
    points, now = config.tiers[tier], config.tiers[current]
    lo, hi = lift.get("ci_low"), lift.get("ci_high")
    if lo is not None and lo > 1 and points < now:
        return current, f"kept: lift interval {lo:.2f}-{hi:.2f} lies above 1, never lowered"
    if hi is not None and hi < 1 and points > now:
        return current, f"kept: lift interval {lo:.2f}-{hi:.2f} lies below 1, never raised"
    return tier, ""


def _direction(config: ScoringConfig, current: int, tier: int) -> int:
    return int(np.sign(config.tiers[tier] - config.tiers[current]))


def stability(
    labelled: pd.DataFrame,
    counts: pd.DataFrame,
    config: ScoringConfig,
    train: pd.Series,
    lifts: dict[str, dict],
    suggested: dict[str, int],
    current: dict[str, int],
) -> dict[str, float]:
    """Per signal: the share of bootstrap refits (training accounts resampled) whose guarded tier
    moves the same way as the suggestion (up, down or not at all)."""
    codes, uniques = pd.factorize(labelled["account_id"][train])
    rng = np.random.default_rng([config.calibration.seed, 11])
    base = (1.0 / np.bincount(codes))[codes]  # each account once
    agree = {s: 0 for s in suggested}
    done = 0
    for draw in rng.multinomial(len(uniques), np.full(len(uniques), 1 / len(uniques)), size=STABILITY_SAMPLES):
        fitted, _ = fit_points(labelled, counts, config, train, base * draw[codes])
        if not fitted:
            continue
        done += 1
        for s, tier in suggested.items():
            again, _ = guard_tier(current[s], fitted.get(s), lifts.get(s), config)
            agree[s] += _direction(config, current[s], again) == _direction(config, current[s], tier)
    return {s: (n / done if done else 0.0) for s, n in agree.items()}


def suggested_config(config: ScoringConfig, changes: dict[str, int], version: str) -> ScoringConfig:
    data = _as_yaml_data(config)
    data["version"] = version
    for rule in data["signals"]:
        if rule["name"] in changes:
            rule["tier"] = changes[rule["name"]]
    return parse_config(data, "suggested config")


def _as_yaml_data(config: ScoringConfig) -> dict:
    data = config.model_dump(mode="json")
    data["tiers"] = {int(k): v for k, v in data["tiers"].items()}
    return data


def _flow(rule: dict) -> str:
    """A signal rule as one line of flow-style YAML."""
    return yaml.safe_dump(rule, default_flow_style=True, sort_keys=False, allow_unicode=True, width=10_000).strip()


def _dump(config: ScoringConfig) -> str:
    """The whole config as YAML, one line per signal rule (as the shipped file), so a diff of two
    dumps shows one line per changed rule."""
    data = _as_yaml_data(config)
    rules = [
        {k: v for k, v in rule.items() if v is not None and not (k == "reset" and v is False)}
        for rule in data.pop("signals")
    ]
    head = yaml.safe_dump({"version": data.pop("version")}, sort_keys=False, allow_unicode=True)
    body = "signals:\n" + "".join(f"  - {_flow(rule)}\n" for rule in rules)
    return head + body + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=160)


def _scoring_part(config: ScoringConfig) -> dict:
    """Everything that moves a score (the calibration settings do not)."""
    return config.model_dump(exclude={"calibration"})


_RULE = re.compile(r"^(\s*-\s*\{\s*name:\s*)([a-z][a-z0-9_]*)(\s*,\s*tier:\s*)(\d)\b")
_VERSION = re.compile(r"^version:\s*.*$", re.MULTILINE)


def _edit_text(text: str, changes: dict[str, int], version: str) -> str:
    """The config file's own text with only the tiers and the version changed (comments kept)."""
    lines = []
    for line in text.splitlines(keepends=True):
        match = _RULE.match(line)
        if match and match.group(2) in changes:
            line = line[: match.start(4)] + str(changes[match.group(2)]) + line[match.end(4) :]
        lines.append(line)
    return _VERSION.sub(f"version: {yaml.safe_dump(version).splitlines()[0]}", "".join(lines), count=1)


def config_texts(
    config_path: str | None, current: ScoringConfig, suggested: ScoringConfig, changes: dict[str, int]
) -> tuple[str, str]:
    """The suggested config as YAML and a unified diff against the current one. When the config
    file holds the current scoring config in the shipped style, the diff is a patch of that very
    file (comments kept); otherwise both configs are dumped the same way and diffed."""
    path = Path(config_path) if config_path else DEFAULT_CONFIG_PATH
    try:
        text = path.read_text(encoding="utf-8")
        edited = _edit_text(text, changes, suggested.version)
        same_file = _scoring_part(parse_config(yaml.safe_load(text), str(path))) == _scoring_part(current)
        if same_file and _scoring_part(parse_config(yaml.safe_load(edited), "suggested")) == _scoring_part(suggested):
            diff = difflib.unified_diff(
                text.splitlines(keepends=True),
                edited.splitlines(keepends=True),
                fromfile=f"a/{path.name}",
                tofile=f"b/{path.name} (suggested)",
            )
            return edited, "".join(diff)
    except (OSError, yaml.YAMLError, ValueError):
        pass
    before, after = _dump(current), _dump(suggested)
    diff = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile=f"current ({current.version})",
        tofile=f"suggested ({suggested.version})",
    )
    return after, "".join(diff)


def holdout_backtest(
    lake: Lake,
    current: ScoringConfig,
    suggested: ScoringConfig,
    first: date,
    last: date,
    holdout: set,
    window_days: int,
    report_date: date,
    seed: int = 42,
) -> dict:
    """ROC AUC of the current and the suggested config on the held-out accounts' labelled days of
    the month, both replayed in memory over the same history (the lake is not written)."""
    start = lake.days(catalog.RESOLVED)[0]
    opps = opportunities_as_of(lake, report_date)
    out = {"replayed_from": start.isoformat(), "accounts": len(holdout)}
    labelled = {}
    for name, cfg in (("current", current), ("suggested", suggested)):
        scores = replay_scores(lake, cfg, start, last)
        scores = scores[(scores["as_of"] >= first) & scores["account_id"].isin(holdout)]
        rows, won, _ = label_rows(scores, opps, window_days, report_date)
        rows = rows[rows["labelled"]]
        labelled[name] = rows
        auc = float(roc_auc_score(rows["won"], rows["score"])) if rows["won"].nunique() == 2 else None
        out[name] = {"auc": auc, "account_days": len(rows), "won_outcomes": won, "version": cfg.version}
    out["gain"] = auc_gain(labelled["current"], labelled["suggested"], seed)
    return out


def auc_gain(current: pd.DataFrame, suggested: pd.DataFrame, seed: int) -> dict:
    """Held-out ROC AUC of the suggested config minus the current one, with a 95% interval from a
    paired bootstrap of the held-out accounts (both scored on the same account-days)."""
    pair = current[["account_id", "as_of", "won", "score"]].merge(
        suggested[["account_id", "as_of", "score"]], on=["account_id", "as_of"], suffixes=("", "_new")
    )
    y = pair["won"].to_numpy()
    if len(np.unique(y)) < 2:
        return {"value": None, "ci_low": None, "ci_high": None}
    old, new = pair["score"].to_numpy(dtype=float), pair["score_new"].to_numpy(dtype=float)
    codes, uniques = pd.factorize(pair["account_id"])
    rng = np.random.default_rng([seed, 13])
    draws = []
    for w in rng.multinomial(len(uniques), np.full(len(uniques), 1 / len(uniques)), size=GAIN_SAMPLES):
        rw = w[codes].astype(float)
        if len(np.unique(y[rw > 0])) == 2:
            draws.append(roc_auc_score(y, new, sample_weight=rw) - roc_auc_score(y, old, sample_weight=rw))
    value = float(roc_auc_score(y, new) - roc_auc_score(y, old))
    if len(draws) < 20:
        return {"value": value, "ci_low": None, "ci_high": None}
    return {"value": value, "ci_low": float(np.percentile(draws, 2.5)), "ci_high": float(np.percentile(draws, 97.5))}


def suggest(
    lake: Lake,
    config: ScoringConfig,
    config_path: str | None,
    data,
    lifts: list[dict],
    holdout_share: float | None = None,
) -> Suggestion:
    """Fit, map to guarded tiers (`lifts`: the report's signal lift entries), build the suggested
    config and its diff, measure its stability, backtest it on held-out accounts, recommend or not."""
    cal = config.calibration
    labelled = data.labelled
    holdout = split_accounts(labelled["account_id"], holdout_share or cal.holdout_share, cal.seed)
    train = ~labelled["account_id"].isin(holdout)
    fitted, why = fit_points(labelled, data.counts, config, train)
    if not fitted:
        return Suggestion(False, note=f"no suggestion: {why}")
    current_points = config.signal_points()
    current_tier = {}
    for rule in config.signals:
        current_tier.setdefault(rule.name, rule.tier)
    by_signal = {e["signal"]: e for e in lifts}
    fit_signals = [s for s in data.counts.columns if s not in config.reset_signals() and s != "combination_bonus"]
    rows, changes, tiers = [], {}, {}
    for signal in fit_signals:
        points = fitted.get(signal)
        tier, why = guard_tier(current_tier[signal], points, by_signal.get(signal), config)
        tiers[signal] = tier
        if current_tier[signal] != tier:
            changes[signal] = tier
        rows.append(
            {
                "signal": signal,
                "current_tier": current_tier[signal],
                "current_points": current_points[signal],
                "fitted_points": None if points is None else round(points, 2),
                "suggested_tier": tier,
                "suggested_points": config.tiers[tier],
                "changed": current_tier[signal] != tier,
                "judged": not why.startswith("not judged"),
                "note": why,
            }
        )
    stable = stability(labelled, data.counts, config, train, by_signal, tiers, current_tier)
    for row in rows:
        row["stability"] = round(stable[row["signal"]], 3) if row["judged"] else None
    rows.sort(key=lambda r: (not r["judged"], -(r["fitted_points"] or 0.0), r["signal"]))
    version = f"{config.version}-suggested-{data.month}"[:64]
    candidate = suggested_config(config, changes, version)
    text, diff = config_texts(config_path, config, candidate, changes)
    result = Suggestion(
        True,
        signals=rows,
        changes=changes,
        train_accounts=int(labelled.loc[train, "account_id"].nunique()),
        holdout_accounts=int(labelled.loc[~train, "account_id"].nunique()),
        yaml_text=text,
        diff=diff,
    )
    result.backtest = holdout_backtest(
        lake, config, candidate, data.first, data.last, holdout, data.window_days, data.report_date, cal.seed
    )
    result.recommended, result.verdict = verdict(rows, result.backtest)
    return result


def verdict(rows: list[dict], backtest: dict) -> tuple[bool, str]:
    """Adopt only changes that are stable and improve the held-out AUC beyond its interval."""
    changed = [r for r in rows if r["changed"]]
    if not changed:
        return False, "The data suggests no change: keep the current points."
    shaky = [r["signal"] for r in changed if (r["stability"] or 0) < STABLE_SHARE]
    gain = backtest.get("gain", {})
    if gain.get("ci_low") is None:
        return False, "The held-out accounts cannot tell the configs apart: keep the current points."
    interval = f"{gain['value']:+.3f} (95% interval {gain['ci_low']:+.3f} to {gain['ci_high']:+.3f})"
    if gain["ci_low"] <= 0:
        return False, f"Held-out ROC AUC gain {interval} is not above 0: keep the current points."
    if shaky:
        return False, (
            f"Held-out ROC AUC gain {interval}, but {len(shaky)} change(s) are unstable (moved the same way in fewer "
            f"than {100 * STABLE_SHARE:.0f}% of the bootstrap refits: {', '.join(shaky)}): keep the current points."
        )
    return True, f"Held-out ROC AUC gain {interval} and every change is stable: worth adopting after review."
