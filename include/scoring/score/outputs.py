"""From engine arrays to the rows people read: bands, next actions, trend labels, alerts."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from include.scoring.core.config import ScoringConfig
from include.scoring.score.engine import EPOCH_ORDINAL, NO_TIME, NS_PER_DAY
from include.scoring.score.health import ALERTING, HEALTH, coverage, missing_role_labels

_S, _F, _TS = pa.string(), pa.float64(), pa.timestamp("us", tz="UTC")
#: Fixed schemas of the scoring outputs, so an empty day is written with the same types as a busy one.
CONTRIB_SCHEMA = pa.schema(
    [
        ("event_id", _S),
        ("event_time", _TS),
        ("source", _S),
        ("account_id", _S),
        ("person_key", _S),
        ("signal", _S),
        ("base_points", _F),
        ("multiplier", _F),
        ("points", _F),
        ("adjustment", _S),
        ("reset", pa.bool_()),
        ("role", _S),
    ]
)
CHANGE_SCHEMA = pa.schema(
    [
        ("account_id", _S),
        ("as_of", pa.date32()),
        ("kind", _S),
        ("rule", _S),
        ("before", _S),
        ("after", _S),
        ("score_before", _F),
        ("score_after", _F),
        ("recipient", _S),
        ("audience", _S),
    ]
)
DAILY_POINTS_SCHEMA = pa.schema([("account_id", _S), ("points", _F)])
#: a day's points per account and signal as earned, with the account's scale and reset epoch then:
#: what leaves the accumulation window `window_days` later (window.py)
DAILY_LEDGER_SCHEMA = pa.schema(
    [("account_id", _S), ("signal", _S), ("points", _F), ("log_scale", _F), ("epoch", pa.int64())]
)
SCORE_SCHEMA = pa.schema(
    [
        ("account_id", _S),
        ("as_of", pa.date32()),
        ("score", _F),
        ("band", _S),
        ("engagement_percentile", _F),
        ("accumulated", _F),
        ("breadth", _F),
        ("engaged_people", pa.int64()),
        ("new_people_14d", pa.int64()),
        ("buying_group_coverage", _F),
        ("missing_roles", _S),
        ("health", _S),
        ("points_today", _F),
        ("trend", _S),
        ("change_7d", _F),
        ("change_28d", _F),
        ("surge", pa.bool_()),
        ("last_touch_at", _TS),
        ("last_touch_signal", _S),
        ("days_since_engagement", pa.int64()),
        ("next_action", _S),
        ("lifecycle", _S),
        ("account_name", _S),
        ("abm_tier", pa.int64()),
        ("owner_email", _S),
        ("sdr_email", _S),
        ("config_version", _S),
    ]
)

#: the columns dictionary-encoded: those with few distinct values. Ids, names and times (a value
#: per row, or nearly) are written plain; in the score file most numbers repeat (many accounts sit
#: at 0 or at the same few scores) and owners' emails too, so there a dictionary is both faster
#: and smaller (a day's 100k rows: 61 ms and 2.0 MB against 88 ms and 2.6 MB, benchmarks/notes.md)
CONTRIB_DICTIONARY_COLUMNS = ["source", "signal", "base_points", "multiplier", "points", "adjustment", "reset", "role"]
SCORE_DICTIONARY_COLUMNS = [
    name for name in SCORE_SCHEMA.names if name not in ("account_id", "last_touch_at", "account_name")
]
#: text with a value per row (or nearly): min/max statistics over a file of them prune nothing
SCORE_NO_STATISTICS = ["account_id", "account_name", "owner_email", "sdr_email"]
CONTRIB_NO_STATISTICS = [
    "event_id",
    "account_id",
    "person_key",
]  # rows in time order: any file spans nearly all of them


def band_codes(scores: np.ndarray, config: ScoringConfig) -> np.ndarray:
    """Index in config.bands of the first band whose max_score the (2-decimal) score does not exceed."""
    bounds = np.array([b.max_score for b in config.bands[:-1]], dtype=float)
    return np.searchsorted(bounds, np.round(np.asarray(scores, dtype=float), 2), side="left")


def bands_of(scores: np.ndarray, config: ScoringConfig) -> np.ndarray:
    """The first band whose max_score the (2-decimal) score does not exceed."""
    return np.array([b.name for b in config.bands], dtype=object)[band_codes(scores, config)]


def day_column(day: date, n: int) -> pa.Array:
    """`day` repeated n times as a date32 column (no Python date per row)."""
    return pa.array(np.full(n, day.toordinal() - EPOCH_ORDINAL, np.int32)).view(pa.date32())


def labels(codes: np.ndarray, names: list) -> pa.Array:
    """names[code] as an Arrow text array (null where the code is outside names): a day's 100k
    labels without a Python string per row."""
    codes = np.asarray(codes, dtype=np.int64)
    outside = (codes < 0) | (codes >= len(names))
    table = pa.array(list(names), pa.string())
    if not outside.any():  # the usual case: no null mask to build
        return table.take(pa.array(codes))
    return table.take(pa.array(np.where(outside, 0, codes), mask=outside))


def account_columns(accounts: pd.DataFrame) -> dict[str, pa.Array]:
    """The score columns copied from the CRM snapshot, as Arrow arrays: converted once per
    snapshot, which a replay reuses for every day it is unchanged."""
    text = {name: accounts[name].astype("str") for name in ("account_id", "owner_email", "sdr_email", "lifecycle")}
    text["account_name"] = accounts["name"].astype("str").str.strip()
    columns = {name: pa.array(values, pa.string(), from_pandas=True) for name, values in text.items()}
    columns["abm_tier"] = pa.array(accounts["abm_tier"], from_pandas=True).cast(pa.int64())
    return columns


def score_table(
    day: date,
    config: ScoringConfig,
    static: dict[str, pa.Array],
    values: dict[str, np.ndarray],
    customer: np.ndarray,
    touch_ns: np.ndarray,
    touch_signal: np.ndarray,
    signals: list[str],
    rank: bool = True,
) -> tuple[pa.Table, np.ndarray]:
    """The day's score rows (SCORE_SCHEMA) built as Arrow arrays straight from the engine's arrays
    (`values` and the rest already in snapshot order), and the band code of each row. `rank`:
    the rows are every account of the day, so the percentile is worked out here (a shard's rows
    are not: its percentile is filled in once every shard is written)."""
    n = len(static["account_id"])
    score = values["score"]
    band = band_codes(score, config)
    roles = config.buying_group.roles
    masks = values["role_mask"]
    known = touch_ns != NO_TIME
    touch_day = np.where(known, touch_ns, 0) // NS_PER_DAY + EPOCH_ORDINAL
    trend = trend_codes(values["change_7d"], config)
    columns = {
        "account_id": static["account_id"],
        "as_of": day_column(day, n),
        "score": score,
        "band": labels(band, [b.name for b in config.bands]),
        "engagement_percentile": pa.array(percentiles(score, ~customer), pa.float64(), from_pandas=True)
        if rank
        else pa.nulls(n, pa.float64()),
        "accumulated": values["accumulated"],
        "breadth": values["breadth"],
        "engaged_people": values["engaged_people"].astype(np.int64),
        "new_people_14d": values["new_people_14d"].astype(np.int64),
        "buying_group_coverage": np.round(coverage(masks, len(roles)), 4),
        "missing_roles": labels(masks, missing_role_labels(roles)),
        "health": labels(values["health"], list(HEALTH)),
        "points_today": values["points_today"],
        "trend": labels(*trend),
        "change_7d": values["change_7d"],
        "change_28d": values["change_28d"],
        "surge": values["surge"],
        "last_touch_at": pa.array(np.where(known, touch_ns, 0) // 1000, pa.timestamp("us", tz="UTC"), mask=~known),
        "last_touch_signal": labels(touch_signal, signals),
        "days_since_engagement": pa.array(day.toordinal() - touch_day, pa.int64(), mask=~known),
        "next_action": labels(*next_action_codes(band, customer, config, masks)),
        "lifecycle": pc.if_else(pa.array(customer, pa.bool_()), "customer", static["lifecycle"]),
        "account_name": static["account_name"],
        "abm_tier": static["abm_tier"],
        "owner_email": static["owner_email"],
        "sdr_email": static["sdr_email"],
        "config_version": pa.repeat(pa.scalar(config.version, pa.string()), n),
    }
    arrays = [c if isinstance(c, pa.Array) else pa.array(c) for c in columns.values()]
    return pa.Table.from_arrays(arrays, schema=SCORE_SCHEMA), band


def daily_points_table(scores: pa.Table) -> pa.Table:
    """The accounts that gained or lost points today (the surge baseline of later replays)."""
    moved = scores.filter(pc.not_equal(scores["points_today"], 0.0))
    return pa.Table.from_arrays([moved["account_id"], moved["points_today"]], schema=DAILY_POINTS_SCHEMA)


def next_action_codes(
    bands: np.ndarray, customer: np.ndarray, config: ScoringConfig, role_mask: np.ndarray | None = None
) -> tuple[np.ndarray, list]:
    """Codes into the returned names: each band's next action, the customer action for customers;
    from `buying_group.flag_missing_decision_maker_from` up, a prospect whose buying group has no
    decision maker engaged gets its band's action with that said."""
    n_bands = len(config.bands)
    names = [b.next_action for b in config.bands] + [config.customer_next_action]
    names += [f"{b.next_action} \u2014 no decision maker engaged yet" for b in config.bands]
    codes = np.where(customer, n_bands, bands)
    flag = config.buying_group.flag_missing_decision_maker_from
    if role_mask is not None and flag is not None and "decision_maker" in config.buying_group.roles:
        bit = 1 << config.buying_group.roles.index("decision_maker")
        from_band = [b.name for b in config.bands].index(flag)
        missing = ~customer & (bands >= from_band) & ((role_mask & bit) == 0)
        codes = np.where(missing, n_bands + 1 + bands, codes)
    return codes, names


def percentiles(score: np.ndarray, prospect: np.ndarray) -> np.ndarray:
    """Each prospect's standing among the day's prospects, 0-100: the share of the others scoring
    strictly less (ties share a rank; the top is 100, a lone prospect 100); NaN for customers."""
    out = np.full(len(score), np.nan)
    ranked = np.sort(score[prospect])
    if len(ranked):
        below = np.searchsorted(ranked, score[prospect], side="left")
        out[prospect] = np.round(100.0 * below / max(len(ranked) - 1, 1), 1) if len(ranked) > 1 else 100.0
    return out


def band_shares(band: np.ndarray, prospect: np.ndarray, config: ScoringConfig) -> dict[str, float]:
    """Share of the day's prospects in each band (band name -> 0-1, in band order)."""
    counts = np.bincount(band[prospect], minlength=len(config.bands))
    total = max(int(counts.sum()), 1)
    return {b.name: round(int(c) / total, 4) for b, c in zip(config.bands, counts, strict=True)}


def trend_codes(change_7d: np.ndarray, config: ScoringConfig) -> tuple[np.ndarray, list]:
    flat = config.trend.flat_below
    return np.where(change_7d >= flat, 0, np.where(change_7d <= -flat, 1, 2)), ["up", "down", "flat"]


def change_table(
    account_ids: pa.Array,
    day: date,
    kind: str,
    rule,
    before: np.ndarray,
    after: np.ndarray,
    recipient: np.ndarray | None = None,
    audience: np.ndarray | None = None,
) -> pa.Table:
    """Change rows (CHANGE_SCHEMA) built as Arrow: before and after as 2-decimal text beside the numbers."""
    n = len(account_ids)
    none = pa.nulls(n, pa.string())
    columns = [
        account_ids,
        day_column(day, n),
        pa.repeat(pa.scalar(kind), n),
        pa.array(rule, pa.string()) if isinstance(rule, np.ndarray) else pa.repeat(pa.scalar(rule), n),
        pa.array(_money(before), pa.string()),
        pa.array(_money(after), pa.string()),
        pa.array(np.asarray(before, dtype=float)),
        pa.array(np.asarray(after, dtype=float)),
        none if recipient is None else pa.array(recipient, pa.string()),
        none if audience is None else pa.array(audience, pa.string()),
    ]
    return pa.Table.from_arrays(columns, schema=CHANGE_SCHEMA)


def sorted_changes(parts: list[pa.Table]) -> pa.Table:
    """The day's changes in one table, ordered by kind, account and rule (stable)."""
    if not parts:
        return CHANGE_SCHEMA.empty_table()
    table = pa.concat_tables(parts) if len(parts) > 1 else parts[0]
    order = pc.sort_indices(
        table, sort_keys=[("kind", "ascending"), ("account_id", "ascending"), ("rule", "ascending")]
    )
    return table.take(order)


def _money(values: np.ndarray) -> list[str]:
    """2-decimal text ("%.2f"), formatted by Python: a few thousand values a day at most."""
    return [f"{v:.2f}" for v in np.asarray(values, dtype=float).tolist()]


def alert_changes(
    account_ids: pa.Array,
    accounts: pd.DataFrame,
    before: np.ndarray,
    after: np.ndarray,
    customer: np.ndarray,
    day: date,
    config: ScoringConfig,
) -> pa.Table | None:
    """One alert per upward crossing of each threshold; customers' alerts go to the owner.
    None when nothing crossed (most accounts, most days: no table is built)."""
    crossed = [
        (rule, np.flatnonzero((before <= rule.threshold) & (after > rule.threshold)))
        for rule in config.alerts.thresholds
    ]
    crossed = [(rule, i) for rule, i in crossed if len(i)]
    if not crossed:
        return None
    i = np.concatenate([rows for _, rows in crossed])
    rule_of = np.concatenate([np.full(len(rows), n) for n, (_, rows) in enumerate(crossed)])
    owner = accounts["owner_email"].iloc[i].to_numpy(dtype=object)  # only the crossing rows become Python objects
    sdr = accounts["sdr_email"].iloc[i].to_numpy(dtype=object)
    wanted = np.array([rule.recipient for rule, _ in crossed], dtype=object)[rule_of]
    default = np.where(wanted == "owner", owner, np.where(wanted == "sdr", sdr, config.notifications.manager_email))
    recipient = np.where(customer[i], owner, default).astype(object)
    usable = np.fromiter((isinstance(r, str) and r != "" for r in recipient), bool, len(recipient))
    recipient[~usable] = None
    audience = np.where(customer[i], "owner", wanted).astype(object)
    rules = np.array([f"threshold_{rule.threshold:g}" for rule, _ in crossed], dtype=object)[rule_of]
    return change_table(account_ids.take(i), day, "alert", rules, before[i], after[i], recipient, audience)


def band_changes(
    account_ids: pa.Array,
    before: np.ndarray,
    after: np.ndarray,
    after_bands: np.ndarray,
    day: date,
    config: ScoringConfig,
) -> pa.Table | None:
    """One row per account whose band moved (None when none did); `after_bands` are the band codes
    of `after`, already worked out for the score rows."""
    b0, b1 = band_codes(before, config), after_bands
    i = np.flatnonzero(b0 != b1)
    if not len(i):
        return None
    names = [b.name for b in config.bands]
    table = change_table(account_ids.take(i), day, "band_change", "band", before[i], after[i])
    return table.set_column(4, "before", labels(b0[i], names)).set_column(5, "after", labels(b1[i], names))


def health_changes(
    account_ids: pa.Array,
    accounts: pd.DataFrame,
    health_before: np.ndarray,
    health_after: np.ndarray,
    score: np.ndarray,
    day: date,
) -> list[pa.Table]:
    """A change row for every customer whose health moved (known the day before and today), and an
    alert to the account owner for each move into at_risk or dormant."""
    moved = np.flatnonzero((health_before != health_after) & (health_before >= 0) & (health_after >= 0))
    if not len(moved):
        return []
    names = list(HEALTH)
    ids = account_ids.take(pa.array(moved))
    table = change_table(ids, day, "health_change", "health", score[moved], score[moved])
    parts = [
        table.set_column(4, "before", labels(health_before[moved], names)).set_column(
            5, "after", labels(health_after[moved], names)
        )
    ]
    alerting = np.isin(health_after[moved], ALERTING)
    if alerting.any():
        i = moved[alerting]
        owner = accounts["owner_email"].iloc[i].to_numpy(dtype=object)
        usable = np.fromiter((isinstance(r, str) and r != "" for r in owner), bool, len(owner))
        owner[~usable] = None
        rules = np.array([f"health_{names[c]}" for c in health_after[i]], dtype=object)
        audience = np.full(len(i), "owner", dtype=object)
        parts.append(
            change_table(account_ids.take(pa.array(i)), day, "alert", rules, score[i], score[i], owner, audience)
        )
    return parts
