"""From CRM API records (JSON objects) to contract columns: shared by the API connectors.

Records are turned into columns once (a list per field), and every translation works on whole
columns: picklist values through the configured value maps (case- and space-insensitive; an
unknown value passes through for validation to report), activity types through the first
configured rule whose patterns all match.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa

from include.scoring.core.source_config import ActivityRule


def get_path(record: Mapping | None, path: str):
    """`record[a][b]...` for the dotted `path` (None when a level is missing or null)."""
    value = record
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def column(records: list[Mapping], path: str | None) -> list:
    """The values of one (dotted) field across records; all None when the field is not mapped."""
    if path is None:
        return [None] * len(records)
    return [get_path(r, path) for r in records]


def values_to_arrow(values: Iterable) -> pa.Array:
    """Values of one column: Arrow infers str, int, float, bool and datetime columns in C; a column
    of mixed types (SQLite and JSON allow it) is kept as text for coercion to report."""
    values = list(values) if not isinstance(values, (list, tuple)) else values
    try:
        return pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
        return pa.array(
            [None if v is None else (v.isoformat() if hasattr(v, "isoformat") else str(v)) for v in values], pa.string()
        )


def map_values(values: list, mapping: Mapping[str, object], default=None) -> list:
    """Each value through `mapping` (keys compared trimmed and case-insensitively); an empty value
    becomes `default`; a value the map does not know is kept as it is (validation reports it)."""
    keyed = {str(k).strip().lower(): v for k, v in mapping.items()}
    series = pd.Series(values, dtype=object)
    text = series.astype("string").str.strip()
    empty = text.isna() | (text == "")
    mapped = text.str.lower().map(keyed)
    out = series.where(mapped.isna(), mapped.astype(object))
    out = out.where(~empty.to_numpy(dtype=bool), default)
    return [None if (v is None or (isinstance(v, float) and np.isnan(v))) else v for v in out.tolist()]


def first_present(records: list[Mapping], paths: list[str]) -> list:
    """Per record, the first non-empty value among `paths`."""
    out = pd.Series(column(records, paths[0]), dtype=object)
    for path in paths[1:]:
        out = out.where(out.notna() & (out.astype("string") != ""), pd.Series(column(records, path), dtype=object))
    return [None if pd.isna(v) else v for v in out.tolist()]


def rule_fields(rules: list[ActivityRule], obj: str) -> list[str]:
    return sorted({name for rule in rules if rule.object == obj for name in rule.when})


def activity_types(records: list[Mapping], obj: str, rules: list[ActivityRule]) -> list[str | None]:
    """The activity type of each record of `obj`: the first rule (in config order) whose patterns
    all match the whole value, ignoring case; None when no rule does."""
    result = np.full(len(records), None, dtype=object)
    undecided = np.ones(len(records), bool)
    values = {name: pd.Series(column(records, name), dtype=object).astype("string") for name in rule_fields(rules, obj)}
    for rule in (r for r in rules if r.object == obj):
        match = undecided.copy()
        for name, pattern in rule.when.items():
            hit = values[name].str.fullmatch(pattern, case=False)
            match &= hit.fillna(False).to_numpy(dtype=bool)
        result[match] = rule.activity_type
        undecided &= ~match
    return result.tolist()


def skipped_examples(records: list[Mapping], obj: str, kinds: list, rules: list[ActivityRule]) -> dict[str, int]:
    """Untyped records of `obj` counted by the values of the fields the rules look at."""
    untyped = pd.Series(kinds, dtype=object).isna().to_numpy(bool)
    if not untyped.any():
        return {}
    names = rule_fields(rules, obj)
    if not names:
        return {f"{obj} matching no activity rule (no rule for this object)": int(untyped.sum())}
    shown = pd.Series("", index=range(len(records)), dtype=object)
    for i, name in enumerate(names):
        values = pd.Series(column(records, name), dtype=object).map(repr)
        shown = shown + (", " if i else "") + f"{name}=" + values
    counts = shown[untyped].value_counts()
    return {f"{obj} matching no activity rule ({key})": int(n) for key, n in counts.items()}


def table_of(columns: Mapping[str, list], names: list[str]) -> pa.Table:
    """An Arrow table of the contract columns `names` from per-column value lists."""
    return pa.table({name: values_to_arrow(columns[name]) for name in names})
