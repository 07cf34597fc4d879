"""Suggested point values from the data, as a config diff for human review (never applied).

An L2-regularised logistic regression of "closed won within the window" on each account-day's
per-signal event counts (the lookback window up to the score date) is fitted on a training share
of the accounts, each account weighted once (its days share one unit of weight). A coefficient
is the log-odds one more event of the signal is worth, which is what points are on the score's
scale: the strongest positive coefficient maps to the top tier's points, negative ones to 0, and
each signal takes the tier whose points are nearest. The
suggested config is then replayed over history (backtest.replay_scores) and compared with the
current one by ROC AUC on the held-out accounts only.
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


def split_accounts(accounts: pd.Series, holdout_share: float, seed: int) -> set:
    """A deterministic hold-out set of accounts (sorted ids, seeded permutation)."""
    ids = np.array(sorted(pd.unique(accounts)), dtype=object)
    order = np.random.default_rng(seed).permutation(len(ids))
    return set(ids[order[: max(1, round(holdout_share * len(ids)))]])


def fit_points(
    labelled: pd.DataFrame, counts: pd.DataFrame, config: ScoringConfig, train: pd.Series
) -> tuple[dict[str, float], str]:
    """Fitted points per signal (0..top tier) from the training rows; ({}, why) when it cannot fit."""
    fit_signals = [s for s in counts.columns if s not in config.reset_signals() and s != "combination_bonus"]
    x = counts.loc[labelled.index, fit_signals].to_numpy(dtype=float)[train.to_numpy()]
    y = labelled["won"].to_numpy()[train.to_numpy()]
    if len(np.unique(y)) < 2:
        return {}, "the training accounts hold no closed-won outcome (or nothing else)"
    accounts = labelled["account_id"][train]
    weight = (
        1.0 / accounts.map(accounts.value_counts())
    ).to_numpy()  # each account counts once, however many days it has
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
    return {s: float(np.clip(c / top, 0, 1) * top_points) for s, c in zip(fit_signals, coef)}, ""


def nearest_tier(points: float, config: ScoringConfig) -> int:
    tiers = sorted(config.tiers.items(), key=lambda kv: (abs(kv[1] - points), kv[0]))
    return int(tiers[0][0])


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
) -> dict:
    """ROC AUC of the current and the suggested config on the held-out accounts' labelled days of
    the month, both replayed in memory over the same history (the lake is not written)."""
    start = lake.days(catalog.RESOLVED)[0]
    opps = opportunities_as_of(lake, report_date)
    out = {"replayed_from": start.isoformat(), "accounts": len(holdout)}
    for name, cfg in (("current", current), ("suggested", suggested)):
        scores = replay_scores(lake, cfg, start, last)
        scores = scores[(scores["as_of"] >= first) & scores["account_id"].isin(holdout)]
        rows, won, _ = label_rows(scores, opps, window_days, report_date)
        rows = rows[rows["labelled"]]
        auc = float(roc_auc_score(rows["won"], rows["score"])) if rows["won"].nunique() == 2 else None
        out[name] = {"auc": auc, "account_days": len(rows), "won_outcomes": won, "version": cfg.version}
    return out


def suggest(
    lake: Lake, config: ScoringConfig, config_path: str | None, data, holdout_share: float | None = None
) -> Suggestion:
    """Fit, map to tiers, build the suggested config and its diff, backtest on held-out accounts."""
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
    rows, changes = [], {}
    for signal, points in sorted(fitted.items(), key=lambda kv: -kv[1]):
        tier = nearest_tier(points, config)
        if current_tier[signal] != tier:
            changes[signal] = tier
        rows.append(
            {
                "signal": signal,
                "current_tier": current_tier[signal],
                "current_points": current_points[signal],
                "fitted_points": round(points, 2),
                "suggested_tier": tier,
                "suggested_points": config.tiers[tier],
                "changed": current_tier[signal] != tier,
            }
        )
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
        lake, config, candidate, data.first, data.last, holdout, data.window_days, data.report_date
    )
    return result
