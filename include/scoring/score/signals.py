"""Signals (SPEC section 5): which signal each resolved event is, and who earns the combination bonus.

Each event gets exactly one signal, the first config rule that matches. A person with both
combination signals within the window earns a one-off bonus; the bonus memory (per account and
person, the last time of each signal and whether the bonus was awarded) is the only state carried
from one day to the next. Points are worked out in contributions.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from include.scoring.core.arrowops import isin, text_codes, text_column, to_series, values_at
from include.scoring.core.config import ScoringConfig
from include.scoring.core.normalize import matches, url_path

BONUS_STATE_COLUMNS = ["account_id", "person_key", "first_time", "second_time", "awarded"]
BONUS_SIGNAL = "combination_bonus"
_UNSET = -1


def signal_names(config: ScoringConfig) -> list[str]:
    """Every signal a contribution can carry, in rule order: the engine's signal axis, and what
    the signal codes below index."""
    return list(dict.fromkeys([r.name for r in config.signals] + ["unclassified", BONUS_SIGNAL]))


def signal_base_points(config: ScoringConfig) -> np.ndarray:
    """The tier points of each signal before multipliers, indexed by signal code (`signal_names`)."""
    tier_points = config.signal_points()
    return np.array([tier_points.get(name, np.nan) for name in signal_names(config)], dtype=float)


def classify(events: pd.DataFrame | pa.Table, config: ScoringConfig) -> np.ndarray:
    """The signal of every event, as its position in `signal_names`: the first matching rule,
    else `unclassified`."""
    return classified(events, config)[0]


def classified(events: pd.DataFrame | pa.Table, config: ScoringConfig) -> tuple[np.ndarray, pa.Array, np.ndarray]:
    """Each event's signal (`classify`), and its URL path as the distinct paths and each row's
    position among them (null: one past the end), which de-duplication compares.

    Rules only look at source, event type, form type, role and URL path, and a day has few distinct
    combinations of those: each column is dictionary-encoded in Arrow (as read: no conversion to
    pandas), each combination of codes classified once and the answer spread back."""
    codes = {name: text_codes(text_column(events, name)) for name in ("source", "event_type", "form_type", "role")}
    urls, url_code = text_codes(text_column(events, "url"))
    paths, path_of_url = text_codes(url_path(to_series(urls)))  # on the distinct URLs only
    path_code = np.append(path_of_url, len(paths))[url_code]
    combo, _ = pd.factorize(group_keys(*(code for _, code in codes.values()), path_code))
    first = np.flatnonzero(
        combo > np.maximum.accumulate(np.r_[-1, combo[:-1]])
    )  # codes number first appearances 0, 1, 2 ...
    fields = pd.DataFrame(
        {
            name: to_series(values_at(dictionary, code[first]))
            for name, (dictionary, code) in [*codes.items(), ("path", (paths, path_code))]
        }
    )
    return _classify_rows(fields, config)[combo], paths, path_code


def _classify_rows(fields: pd.DataFrame, config: ScoringConfig) -> np.ndarray:
    n = len(fields)
    chosen = np.full(n, _UNSET, dtype=np.int64)
    source = fields["source"].astype("string").to_numpy(dtype=object, na_value=None)
    etype = fields["event_type"].astype("string").to_numpy(dtype=object, na_value=None)
    form = fields["form_type"].astype("string").to_numpy(dtype=object, na_value=None)
    role = fields["role"].astype("string").to_numpy(dtype=object, na_value=None)
    for i, rule in enumerate(config.signals):
        todo = chosen == _UNSET
        if not todo.any():
            break
        mask = todo & (source == rule.source)
        if rule.event_type is not None:
            mask &= np.isin(etype, rule.event_type)
        if rule.form_type is not None:
            mask &= np.isin(form, rule.form_type)
        if rule.role is not None:
            mask &= np.isin(role, rule.role)
        if rule.url_path is not None and mask.any():
            mask &= matches(fields["path"], rule.url_path)
        chosen[mask] = i
    names = signal_names(config)
    code_of_rule = np.array(
        [names.index(r.name) for r in config.signals] + [names.index("unclassified")], dtype=np.int64
    )
    return code_of_rule[np.where(chosen == _UNSET, len(config.signals), chosen)]


def _who(frame: pd.DataFrame) -> pd.Series:
    """The (account, person) a bonus belongs to: one-off per person and account."""
    return frame["account_id"].astype("string") + "\x1f" + frame["person_key"].astype("string")


BONUS_COLUMNS = ["event_id", "day", "event_time", "source", "account_id", "person_key", "signal", "role", "winner"]


def combination_bonus(ev: pd.DataFrame, config: ScoringConfig, state: pd.DataFrame) -> pd.DataFrame:
    """One-off bonus rows for persons completing the pair within the window (per account), each
    with `winner`, the position in `ev` (a RangeIndex) of the event that completed it."""
    bonus_cfg = config.points.combination_bonus
    first, second = bonus_cfg.signals
    window = pd.Timedelta(days=bonus_cfg.within_days)
    columns = ["person_key", "event_time", "signal", "event_id", "day", "account_id", "source", "role"]
    pair = ev[columns][isin(ev["signal"], [first, second]) & ev["person_key"].notna().to_numpy()]
    memory = state.set_index(_who(state)) if len(state) else pd.DataFrame(columns=BONUS_STATE_COLUMNS[2:])
    if pair.empty or not bonus_cfg.enabled:
        return pd.DataFrame(columns=BONUS_COLUMNS)
    pair = pair.sort_values(["event_time", "event_id"], kind="stable")
    pair["_who"] = _who(pair)
    # last time of each signal up to and including each event, starting from the remembered times
    for name, col in ((first, "first_time"), (second, "second_time")):
        own = pair["event_time"].where(pair["signal"] == name)
        prior = pair["_who"].map(memory[col]) if len(memory) else pd.Series(pd.NaT, index=pair.index)
        pair[col] = _running_last(pair, own, prior)
    qualifies = (
        pair["first_time"].notna()
        & pair["second_time"].notna()
        & ((pair["first_time"] - pair["second_time"]).abs() <= window)
    )
    if len(memory):  # plain Python booleans: the memory's column may be Arrow-backed with nulls
        mapped = pair["_who"].map(memory["awarded"].astype(object))
        awarded_before = mapped.map(lambda v: bool(v) if isinstance(v, bool | np.bool_) else False).astype(bool)
    else:
        awarded_before = pd.Series(False, index=pair.index)
    winners = pair[qualifies & ~awarded_before].drop_duplicates("_who", keep="first")
    bonus = pd.DataFrame(
        {
            "event_id": "bonus:"
            + winners["account_id"].astype(str)
            + ":"
            + winners["person_key"].astype(str)
            + ":"
            + winners["event_id"].astype(str),
            "day": winners["day"],
            "event_time": winners["event_time"],
            "source": winners["source"],
            "account_id": winners["account_id"],
            "person_key": winners["person_key"],
            "signal": BONUS_SIGNAL,
            "role": winners["role"],
            "winner": winners.index.to_numpy(dtype=np.int64),
        }
    )
    return bonus


def _running_last(pair: pd.DataFrame, own: pd.Series, prior: pd.Series) -> pd.Series:
    """Per person, the latest time of a signal seen so far (events in time order), or remembered."""
    running = own.groupby(pair["_who"]).ffill()
    remembered = pd.to_datetime(prior, utc=True)
    return running.fillna(remembered)


def bonus_memory(contribs: pd.DataFrame, before: pd.DataFrame, config: ScoringConfig) -> pd.DataFrame:
    """The combination-bonus memory after `contribs`: per account and person the last time of each
    of the two signals and whether the bonus was awarded. Only the latest times matter."""
    first, second = config.points.combination_bonus.signals
    rows = contribs[["account_id", "person_key", "signal", "event_time"]]
    rows = rows[rows["person_key"].notna().to_numpy() & isin(rows["signal"], [first, second, BONUS_SIGNAL])]
    keys = ["account_id", "person_key"]
    parts = []
    for name, col in ((first, "first_time"), (second, "second_time")):
        parts.append(rows[rows["signal"] == name].groupby(keys)["event_time"].max().rename(col))
    awarded = rows[rows["signal"] == BONUS_SIGNAL].groupby(keys).size().gt(0).rename("awarded")
    new = pd.concat([*parts, awarded], axis=1)
    old = (
        before.set_index(keys)
        if len(before)
        else pd.DataFrame(columns=BONUS_STATE_COLUMNS[2:], index=pd.MultiIndex.from_arrays([[], []], names=keys))
    )
    merged = old.reindex(old.index.union(new.index)) if len(old) else new.reindex(columns=BONUS_STATE_COLUMNS[2:])
    for col in ("first_time", "second_time"):
        merged[col] = pd.concat(
            [pd.to_datetime(merged[col], utc=True), pd.to_datetime(new[col], utc=True).reindex(merged.index)], axis=1
        ).max(axis=1)
    merged["awarded"] = merged["awarded"].astype("boolean").fillna(False) | new["awarded"].reindex(merged.index).astype(
        "boolean"
    ).fillna(False)
    out = merged.rename_axis(keys).reset_index()[BONUS_STATE_COLUMNS]
    out["awarded"] = out["awarded"].astype(bool)
    return out.sort_values(keys, kind="stable").reset_index(drop=True)


def group_keys(*codes: np.ndarray) -> np.ndarray:
    """One int64 key per row for the combination of non-negative code columns: packed into the
    bits of one integer when they fit (one hash or sort instead of one per column), else
    re-densified column by column."""
    key = np.zeros(len(codes[0]), np.int64)
    if not len(key):
        return key
    bits = [max(int(c.max()), 1).bit_length() for c in codes]
    if sum(bits) <= 62:
        for column, width in zip(codes, bits, strict=True):
            key = (key << width) | column.astype(np.int64)
        return key
    for column in codes:
        key, _ = pd.factorize(key * (int(column.max()) + 1) + column)
    return key


def repeats_but_best(key: np.ndarray, points: np.ndarray) -> np.ndarray:
    """True for every row but one per key: the one kept has the most points, the first in time of
    those (rows in time order). Keeping the first whatever its points let an extra event lower a
    score: two same-key events without a person, the later one a decision maker's."""
    order = np.lexsort((np.arange(len(key)), -points, key))
    repeat = np.ones(len(key), bool)
    if len(key):
        first = np.r_[True, key[order][1:] != key[order][:-1]]
        repeat[order[first]] = False
    return repeat
