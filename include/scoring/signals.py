"""Signals and points (SPEC section 5): resolved events in, contributions out.

Each event gets exactly one signal, the first config rule that matches. Points are the tier
points of the signal times the person's role multiplier; the same (person, signal, url or
campaign, day) counts once; no signal earns an account more than `daily_cap` points a day; a
person with both combination signals within the window earns a one-off bonus. Zero-point events
are kept with their signal, so every resolved event appears in contributions.

Everything is keyed by day, so one call can process one day (incremental) or a whole history
(replay) with identical results; the only carried state is the combination-bonus memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from include.scoring.arrowops import dictionary_codes, isin, lookup, sort_order, to_arrow, to_series
from include.scoring.config import ScoringConfig
from include.scoring.normalize import matches, url_path

CONTRIB_COLUMNS = ["event_id", "day", "event_time", "source", "account_id", "person_key", "signal", "base_points", "multiplier", "points", "adjustment", "reset"]
BONUS_STATE_COLUMNS = ["account_id", "person_key", "first_time", "second_time", "awarded"]
BONUS_SIGNAL = "combination_bonus"
_UNSET = -1


def signal_names(config: ScoringConfig) -> list[str]:
    """Every signal a contribution can carry, in rule order: the engine's signal axis, and what
    the signal codes below index."""
    return list(dict.fromkeys([r.name for r in config.signals] + ["unclassified", BONUS_SIGNAL]))


def classify(events: pd.DataFrame, config: ScoringConfig, path: pd.Series | None = None) -> np.ndarray:
    """The signal of every event, as its position in `signal_names`: the first matching rule,
    else `unclassified`.

    Rules only look at source, event type, form type, role and URL path, and a day has few distinct
    combinations of those: each combination is classified once and the answer spread back."""
    fields = pd.DataFrame({"source": events["source"], "event_type": events["event_type"], "form_type": events["form_type"],
                           "role": events["role"], "path": url_path(events["url"]) if path is None else path}, index=events.index)
    combo, _ = pd.factorize(_group_keys(*(pd.factorize(fields[column], use_na_sentinel=False)[0] for column in fields.columns)))
    first = np.unique(combo, return_index=True)[1]  # combo codes number first appearances 0, 1, 2 ...
    return _classify_rows(fields.iloc[first].reset_index(drop=True), config)[combo]


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
    code_of_rule = np.array([names.index(r.name) for r in config.signals] + [names.index("unclassified")], dtype=np.int64)
    return code_of_rule[np.where(chosen == _UNSET, len(config.signals), chosen)]


def _runs(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """A stable sort of a text column and where each run of equal values (nulls are one value)
    starts in it. When nearly every value differs (event ids), sorting beats hashing."""
    arr = to_arrow(values)
    order = np.asarray(pc.sort_indices(arr).to_numpy(), dtype=np.int64)  # stable: a run keeps the rows' order
    ordered = arr.take(order)
    n = len(arr)
    if n < 2:
        return order, np.ones(n, bool)
    head, tail = ordered.slice(0, n - 1), ordered.slice(1)
    nulls = pc.and_(pc.is_null(head), pc.is_null(tail))
    same = pc.or_(pc.fill_null(pc.equal(head, tail), False), nulls)
    return order, np.r_[True, ~np.asarray(same.to_numpy(zero_copy_only=False), dtype=bool)]


def _codes(values: pd.Series) -> np.ndarray:
    """Integer codes of a column, nulls included as a value of their own (only equality matters).
    Text is hashed by Arrow, without turning the distinct values into Python strings."""
    if not pd.api.types.is_string_dtype(values.dtype) or values.dtype == object:
        return pd.factorize(values, use_na_sentinel=False)[0]
    return dictionary_codes(pc.dictionary_encode(to_arrow(values)))


def _first_of_each(values: pd.Series) -> np.ndarray:
    """True where a text value appears for the first time (nulls count as one value): `~duplicated()`."""
    order, starts = _runs(values)
    first = np.zeros(len(order), bool)
    first[order[starts]] = True
    return first


def _target(events: pd.DataFrame, path: pd.Series) -> pd.Series:
    """What 'the same url or campaign' means per source for de-duplication."""
    path = to_arrow(path.fillna(""))
    campaign = to_arrow(events["campaign_id"].astype("string").fillna(""))
    web = pa.array(isin(events["source"], ["web"]))
    return to_series(pc.if_else(web, path, campaign), events.index)


def _who(frame: pd.DataFrame) -> pd.Series:
    """The (account, person) a bonus belongs to: one-off per person and account."""
    return frame["account_id"].astype("string") + "\x1f" + frame["person_key"].astype("string")


def _combination_bonus(ev: pd.DataFrame, config: ScoringConfig, state: pd.DataFrame) -> pd.DataFrame:
    """One-off bonus rows for persons completing the pair within the window (per account)."""
    bonus_cfg = config.points.combination_bonus
    first, second = bonus_cfg.signals
    window = pd.Timedelta(days=bonus_cfg.within_days)
    columns = ["person_key", "event_time", "signal", "event_id", "day", "account_id", "source", "role"]
    pair = ev[columns][isin(ev["signal"], [first, second]) & ev["person_key"].notna().to_numpy()]
    memory = state.set_index(_who(state)) if len(state) else pd.DataFrame(columns=BONUS_STATE_COLUMNS[2:])
    if pair.empty or not bonus_cfg.enabled:
        return pd.DataFrame(columns=CONTRIB_COLUMNS + ["role"])
    pair = pair.sort_values(["event_time", "event_id"], kind="stable")
    pair["_who"] = _who(pair)
    # last time of each signal up to and including each event, starting from the remembered times
    for name, col in ((first, "first_time"), (second, "second_time")):
        own = pair["event_time"].where(pair["signal"] == name)
        prior = pair["_who"].map(memory[col]) if len(memory) else pd.Series(pd.NaT, index=pair.index)
        pair[col] = _running_last(pair, own, prior)
    qualifies = (pair["first_time"].notna() & pair["second_time"].notna()
                 & ((pair["first_time"] - pair["second_time"]).abs() <= window))
    if len(memory):  # plain Python booleans: the memory's column may be Arrow-backed with nulls
        mapped = pair["_who"].map(memory["awarded"].astype(object))
        awarded_before = mapped.map(lambda v: bool(v) if isinstance(v, bool | np.bool_) else False).astype(bool)
    else:
        awarded_before = pd.Series(False, index=pair.index)
    winners = pair[qualifies & ~awarded_before].drop_duplicates("_who", keep="first")
    bonus = pd.DataFrame(
        {
            "event_id": "bonus:" + winners["account_id"].astype(str) + ":" + winners["person_key"].astype(str) + ":" + winners["event_id"].astype(str),
            "day": winners["day"],
            "event_time": winners["event_time"],
            "source": winners["source"],
            "account_id": winners["account_id"],
            "person_key": winners["person_key"],
            "signal": BONUS_SIGNAL,
            "role": winners["role"],
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
    old = before.set_index(keys) if len(before) else pd.DataFrame(columns=BONUS_STATE_COLUMNS[2:], index=pd.MultiIndex.from_arrays([[], []], names=keys))
    merged = old.reindex(old.index.union(new.index)) if len(old) else new.reindex(columns=BONUS_STATE_COLUMNS[2:])
    for col in ("first_time", "second_time"):
        merged[col] = pd.concat([pd.to_datetime(merged[col], utc=True), pd.to_datetime(new[col], utc=True).reindex(merged.index)], axis=1).max(axis=1)
    merged["awarded"] = merged["awarded"].astype("boolean").fillna(False) | new["awarded"].reindex(merged.index).astype("boolean").fillna(False)
    out = merged.rename_axis(keys).reset_index()[BONUS_STATE_COLUMNS]
    out["awarded"] = out["awarded"].astype(bool)
    return out.sort_values(keys, kind="stable").reset_index(drop=True)


def _group_keys(*codes: np.ndarray) -> np.ndarray:
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


@dataclass
class Contributions:
    """A block's contributions and the codes scoring reuses (each text column is hashed once)."""

    frame: pd.DataFrame  # CONTRIB_COLUMNS + role, in (day, event_time, event_id) order
    accounts: pa.DictionaryArray  # account_id, dictionary-encoded
    persons: pa.DictionaryArray  # person_key, dictionary-encoded: the block's persons in order of appearance
    signals: np.ndarray  # each row's signal as its position in signal_names()


def _dictionary(values: pd.Series) -> tuple[pa.DictionaryArray, np.ndarray]:
    """A text column dictionary-encoded, and its codes with null as a code of its own."""
    encoded = pc.dictionary_encode(to_arrow(values))
    return encoded, dictionary_codes(encoded)


def _unique_events(events: pd.DataFrame) -> pd.DataFrame:
    """Each event id once (the first row of a repeated id): one hash pass when no id repeats,
    the usual case (a sort when the ids are not in order is several times slower)."""
    if len(pc.unique(to_arrow(events["event_id"]))) == len(events):  # a null id is one value, as in _first_of_each
        return events.copy(deep=False)
    return events[_first_of_each(events["event_id"])]


def _in_time_order(ev: pd.DataFrame) -> bool:
    """The rows are in (day, event_time, event_id) order already: resolve writes each day's
    events in time order, so a check (one pass) usually replaces a sort of every column."""
    if len(ev) < 2:
        return True
    time = ev["event_time"]
    if time.isna().any():
        return False
    day, t = np.diff(ev["day"].to_numpy(dtype=np.int64)), np.diff(pd.to_datetime(time, utc=True).dt.as_unit("ns").to_numpy(dtype="datetime64[ns]").astype(np.int64))
    if (day < 0).any() or ((day == 0) & (t < 0)).any():
        return False
    tie = pa.array(np.flatnonzero((day == 0) & (t == 0)))  # same day and time: the event id decides
    ids = to_arrow(ev["event_id"])
    in_order = pc.less_equal(ids.take(tie), ids.take(pc.add(tie, 1)))
    return in_order.null_count == 0 and pc.all(in_order).as_py() is not False


def contributions(events: pd.DataFrame, config: ScoringConfig, bonus_state: pd.DataFrame) -> Contributions:
    """Points per resolved event, plus one-off bonus rows, given the bonus memory before them.

    `events` are resolved rows with a `day` column (the processing day each belongs to).
    """
    ev = _unique_events(events)  # an event counts once
    path = url_path(ev["url"])
    names = signal_names(config)
    signal = classify(ev, config, path)
    ev["signal"] = to_series(pa.array(names, pa.large_string()).take(pa.array(signal)), ev.index)
    ev["signal_code"] = signal
    bonus = _combination_bonus(ev, config, bonus_state)
    # what 'the same url or campaign' is, as codes (bonus rows, never de-duplicated, get -1)
    ev["target"] = _codes(_target(ev, path))
    ev = ev[["event_id", "day", "event_time", "source", "account_id", "person_key", "signal", "signal_code", "role", "target"]]
    if len(bonus):
        ev = pd.concat([ev, bonus.assign(target=-1, signal_code=names.index(BONUS_SIGNAL))], ignore_index=True)
    ev = ev.reset_index(drop=True) if _in_time_order(ev) else ev.take(sort_order(ev, ["day", "event_time", "event_id"])).reset_index(drop=True)
    ev["base_points"] = lookup(ev["signal"], pd.Series(config.signal_points(), dtype=float)).astype(float)
    ev["multiplier"] = lookup(ev["role"], pd.Series(config.points.role_multipliers, dtype=float)).astype(float).fillna(1.0)
    ev["points"] = ev["base_points"] * ev["multiplier"]
    ev["adjustment"] = pd.Series(pd.NA, index=ev.index, dtype="string")
    accounts, account = _dictionary(ev["account_id"])
    persons, person = _dictionary(ev["person_key"])
    signal = ev["signal_code"].to_numpy(dtype=np.int64)
    day = ev["day"].to_numpy(dtype=np.int64)
    day = day - day.min() if len(day) else day
    # the same (account, person, signal, url or campaign) on a day counts once; per account, so shards stay exact
    target = ev["target"].to_numpy(dtype=np.int64) + 1
    key = _group_keys(day, account, person, signal, target)
    repeat = pd.Series(key).duplicated(keep="first").to_numpy() & (ev["points"] > 0).to_numpy() & (signal != names.index(BONUS_SIGNAL))
    ev.loc[repeat, "points"] = 0.0
    ev.loc[repeat, "adjustment"] = "duplicate"
    cap = config.points.daily_cap
    running = ev["points"].groupby(_group_keys(day, account, signal), sort=False).cumsum()
    allowed = np.clip(cap - (running - ev["points"]), 0, None)
    capped = ev["points"] > allowed
    ev.loc[capped, "adjustment"] = ev.loc[capped, "adjustment"].fillna("daily_cap")
    ev["points"] = np.minimum(ev["points"], allowed)
    ev["reset"] = np.isin(signal, [names.index(name) for name in config.reset_signals()])
    return Contributions(ev[CONTRIB_COLUMNS + ["role"]], accounts, persons, signal)
