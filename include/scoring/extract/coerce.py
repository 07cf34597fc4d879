"""Coercion of landed values to the contract types, keeping what could not be coerced.

A value that does not fit its column (a timestamp that is not ISO-8601, a number that is text)
becomes null and the row's `coercion_errors` names the column and shows the value, so validation
can quarantine the row with a reason instead of the value silently disappearing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from include.scoring.core.contracts import TIMESTAMP, Contract

_TRUE = {"true", "t", "1", "yes", "y"}
_FALSE = {"false", "f", "0", "no", "n"}


def _note(errors: np.ndarray, rows: np.ndarray, column: str, originals: np.ndarray, what: str) -> None:
    for row, value in zip(rows, originals):
        shown = str(value)
        shown = shown if len(shown) <= 60 else shown[:60] + "..."
        msg = f"{column}: {shown!r} is not {what}"
        errors[row] = msg if errors[row] is None else f"{errors[row]}; {msg}"


def _as_text(col: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_null(col.type):
        return pa.chunked_array([pa.nulls(len(col), pa.string())])
    if pa.types.is_large_string(col.type):
        col = col.cast(pa.string())
    if not pa.types.is_string(col.type):
        col = pc.cast(col, pa.string())
    # Empty and whitespace-only text is a missing value, the same in CSV, JSON and Parquet.
    blank = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(col), ""), False)
    if not pc.any(blank).as_py():  # the usual case: the column as it is, not a copy of every value
        return col
    return pc.if_else(blank, pa.scalar(None, pa.string()), col)


def _to_timestamp(col: pa.ChunkedArray, name: str, errors: np.ndarray) -> pa.Array:
    if pa.types.is_timestamp(col.type):
        if col.type.tz is None:
            col = pc.assume_timezone(col, "UTC")
        try:
            return pc.cast(col, TIMESTAMP)
        except (
            pa.ArrowInvalid
        ):  # finer than microseconds or out of range: parsed as text below, out-of-range values flagged
            pass
    text = _as_text(col).to_pandas()
    parsed = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
    bad = parsed.isna().to_numpy() & text.notna().to_numpy()
    if bad.any():
        rows = np.flatnonzero(bad)
        _note(errors, rows, name, text.to_numpy()[rows], "an ISO-8601 timestamp")
    return pa.array(parsed.dt.as_unit("us"), TIMESTAMP)


def _to_number(col: pa.ChunkedArray, name: str, errors: np.ndarray, target: pa.DataType) -> pa.Array:
    if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
        values = col.to_pandas()
        text = values.astype("string")
    else:
        text = _as_text(col).to_pandas()
        values = pd.to_numeric(text, errors="coerce")
    bad = values.isna().to_numpy() & text.notna().to_numpy() & ~text.str.strip().str.lower().isin(["nan"]).to_numpy()
    if pa.types.is_integer(target):
        floats = values.to_numpy(dtype=float, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            frac = values.notna().to_numpy() & ~np.isclose(np.nan_to_num(floats) % 1, 0)
            too_big = values.notna().to_numpy() & ~(np.abs(floats) < 2.0**63)  # infinities and beyond int64
        bad |= frac | too_big
        values = values.where(~bad)
        rows = np.flatnonzero(bad)
        _note(errors, rows, name, text.to_numpy()[rows], "a whole number")
        return pa.array(values.astype("Int64"), target)
    rows = np.flatnonzero(bad)
    _note(errors, rows, name, text.to_numpy()[rows], "a number")
    return pa.array(values.astype("float64"), target, from_pandas=True)


def _to_bool(col: pa.ChunkedArray, name: str, errors: np.ndarray) -> pa.Array:
    if pa.types.is_boolean(col.type):
        return col.combine_chunks()
    if pa.types.is_integer(col.type):
        return pc.not_equal(col, 0).combine_chunks()
    text = _as_text(col).to_pandas()
    low = text.str.strip().str.lower()
    out = pd.Series(pd.NA, index=text.index, dtype="boolean")
    out[low.isin(_TRUE).fillna(False).to_numpy()] = True
    out[low.isin(_FALSE).fillna(False).to_numpy()] = False
    bad = out.isna().to_numpy() & text.notna().to_numpy()
    rows = np.flatnonzero(bad)
    _note(errors, rows, name, text.to_numpy()[rows], "true or false")
    return pa.array(out, pa.bool_())


def coerce_to_contract(table: pa.Table, contract: Contract, errors: np.ndarray) -> pa.Table:
    """Cast `table`'s contract columns to their types; failures go to `errors` (mutated)."""
    arrays = []
    for column in contract.columns:
        col = table.column(column.name)
        if column.type == TIMESTAMP:
            arr = _to_timestamp(col, column.name, errors)
        elif pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
            arr = _to_number(col, column.name, errors, column.type)
        elif pa.types.is_boolean(column.type):
            arr = _to_bool(col, column.name, errors)
        else:
            arr = _as_text(col)
        arrays.append(arr)
    return pa.table(arrays, schema=contract.arrow_schema())
