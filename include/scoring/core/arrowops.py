"""Zero-copy hops between pandas string columns and Arrow, and hash lookups on them.

pandas 3 keeps text in Arrow arrays; handing those arrays to `pyarrow.compute` (and wrapping the
results back) costs nothing, whereas `Series.map(other_series)`, `isin` and `str.extract` on a
million rows go through Python objects. Semantics are those of `map` / `isin`: nulls never match.
"""

from __future__ import annotations

from concurrent.futures import Executor

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

TEXT = pa.large_string()


def flat(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One contiguous Arrow array of an Array or a ChunkedArray (the kernels some callers need)."""
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def to_arrow(values) -> pa.Array:
    """A large_string Arrow array of a Series, Index, array or list (zero-copy when possible)."""
    if isinstance(values, pa.ChunkedArray):
        arr = values.combine_chunks()
    elif isinstance(values, pa.Array):
        arr = values
    elif isinstance(values, pd.Series | pd.Index):
        ext = values.array
        if not isinstance(ext, pd.arrays.ArrowStringArray):
            ext = values.astype("string").array
        arr = pa.array(ext)
    else:
        arr = pa.array([None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in values], TEXT)
    arr = flat(arr)
    return arr if arr.type == TEXT else arr.cast(TEXT)


def to_series(arr: pa.Array, index=None) -> pd.Series:
    """Wrap an Arrow text array as a pandas string Series without copying."""
    arr = flat(arr)
    return pd.Series(pd.arrays.ArrowStringArray(arr if arr.type == TEXT else arr.cast(TEXT)), index=index)


def dictionary_codes(encoded: pa.DictionaryArray) -> np.ndarray:
    """The codes of a dictionary-encoded array as int64, null as a code of its own (one past the
    dictionary's end)."""
    return np.asarray(
        pc.fill_null(encoded.indices, len(encoded.dictionary)).to_numpy(zero_copy_only=False), dtype=np.int64
    )


def text_codes(values) -> tuple[pa.Array, np.ndarray]:
    """The distinct values of a text column in order of appearance (nulls left out) and each row's
    position among them as int64 (null: one past the end). An Arrow column is encoded chunk by
    chunk as it is (its chunks share one dictionary), never combined into one copy first. A column
    read dictionary-encoded is not hashed again: its chunks' dictionaries are unified (the values
    are then in dictionary order, and may include some no row holds)."""
    if not isinstance(values, pa.Array | pa.ChunkedArray):
        values = to_arrow(values)
    if pa.types.is_null(values.type):
        values = values.cast(pa.string())
    if pa.types.is_dictionary(values.type):
        encoded = pa.chunked_array(values.chunks if isinstance(values, pa.ChunkedArray) else [values], values.type)
        encoded = encoded.unify_dictionaries()
    else:
        encoded = pc.dictionary_encode(values)
    if isinstance(encoded, pa.Array):
        return encoded.dictionary, dictionary_codes(encoded)
    if not encoded.num_chunks:
        return pa.array([], values.type), np.empty(0, np.int64)
    dictionary = encoded.chunk(encoded.num_chunks - 1).dictionary
    if any(len(chunk.dictionary) != len(dictionary) for chunk in encoded.chunks):
        raise AssertionError("the chunks of a dictionary-encoded column are expected to share its dictionary")
    indices = pa.chunked_array([chunk.indices for chunk in encoded.chunks], encoded.type.index_type)
    codes = pc.fill_null(indices, len(dictionary)).to_numpy()
    return dictionary, np.asarray(codes, dtype=np.int64)


def values_at(dictionary: pa.Array, codes: np.ndarray) -> pa.Array:
    """The dictionary's values at `codes` (`text_codes`'s: one past the end is null)."""
    return dictionary.take(pa.array(codes, pa.int64(), mask=codes == len(dictionary)))


def text_column(rows: pd.DataFrame | pa.Table, name: str) -> pa.Array | pa.ChunkedArray:
    """A text column of a frame or a table as Arrow (a table's as read, chunks and encoding kept)."""
    return rows.column(name) if isinstance(rows, pa.Table) else to_arrow(rows[name])


def sorted_codes(values) -> tuple[pa.Array, np.ndarray]:
    """The distinct values of a text column in sorted order, and each row's position among them
    (-1 for null): integer codes that compare as the text does, for numpy sorts and groupings."""
    encoded = pc.dictionary_encode(to_arrow(values))
    order = np.asarray(pc.sort_indices(encoded.dictionary).to_numpy(), dtype=np.int64)
    rank = np.empty(len(order) + 1, np.int64)
    rank[order] = np.arange(len(order))
    rank[-1] = -1  # a null's code (dictionary_codes gives nulls the code one past the end)
    return encoded.dictionary.take(pa.array(order, pa.int64())), rank[dictionary_codes(encoded)]


def positions(values, keys) -> np.ndarray:
    """Position of each value in `keys` (-1 when absent or null); the first of repeated keys."""
    found = pc.index_in(to_arrow(values), value_set=to_arrow(keys))
    return np.asarray(pc.fill_null(found, -1).to_numpy(zero_copy_only=False), dtype=np.int64)


def lookup(values: pd.Series, mapping: pd.Series) -> pd.Series:
    """values.map(mapping) for string keys: the mapped value, or NA when the key is absent."""
    return take_at(mapping, positions(values, mapping.index), values.index)


def take_at(mapping: pd.Series, pos: np.ndarray, index) -> pd.Series:
    """`lookup` once the positions are known (`positions(values, mapping.index)`): several columns
    looked up by the same keys search the keys once."""
    if pd.api.types.is_string_dtype(mapping.dtype) or mapping.dtype == object:
        taken = to_arrow(mapping).take(pa.array(pos, pa.int64(), mask=pos < 0))
        return to_series(taken, index)
    targets = mapping.to_numpy()
    out = pd.Series(targets[np.maximum(pos, 0)] if len(targets) else np.zeros(len(pos)), index=index)
    return out.where(pos >= 0)


def take_rows(table: pa.Table, rows: np.ndarray, pool: Executor) -> pa.Table:
    """`table.take(rows)` with the columns gathered on `pool`'s threads: Arrow's take works on one
    thread per call and releases the GIL, and a gather of millions of text values is slow."""
    at = pa.array(rows, pa.int64())
    return pa.Table.from_arrays(list(pool.map(lambda column: column.take(at), table.columns)), schema=table.schema)


def distinct(values: pd.Series) -> pd.Series:
    """The distinct non-null values of a text Series, in first-seen order (one hash pass in Arrow)."""
    return to_series(pc.unique(to_arrow(values).drop_null()))


def isin(values, options) -> np.ndarray:
    """values.isin(options) for strings, as a numpy bool array."""
    options = list(options) if isinstance(options, set | frozenset) else options
    found = pc.is_in(to_arrow(values), value_set=to_arrow(options))
    return np.asarray(pc.fill_null(found, False).to_numpy(zero_copy_only=False), dtype=bool)


def sort_order(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Row positions that sort `frame` by `columns` ascending, stably, nulls last: what
    `sort_values(columns, kind="stable")` gives, several times faster on text columns."""
    table = pa.table({f"c{i}": _sortable(frame[c]) for i, c in enumerate(columns)})
    keys = [(f"c{i}", "ascending", "at_end") for i in range(len(columns))]
    return np.asarray(pc.sort_indices(table, sort_keys=keys).to_numpy(), dtype=np.int64)


def _sortable(column: pd.Series) -> pa.Array:
    if column.dtype == object and pd.api.types.infer_dtype(column, skipna=True) == "string":
        return pa.array(column.to_numpy(), pa.string(), from_pandas=True)
    if column.dtype == object:  # e.g. dates as Python objects: their sorted codes order the same
        codes, _ = pd.factorize(column, sort=True)
        return pa.array(np.where(codes < 0, np.iinfo(np.int64).max, codes))
    return (
        pa.array(column.array) if isinstance(column.array, pd.arrays.ArrowStringArray) else pa.Array.from_pandas(column)
    )
