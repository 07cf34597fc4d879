"""The pandas <-> Arrow helpers: same answers as pandas' map / isin / sort_values, nulls never match."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from include.scoring.core.arrowops import (
    TEXT,
    dictionary_codes,
    distinct,
    flat,
    isin,
    lookup,
    positions,
    sort_order,
    sorted_codes,
    take_at,
    take_rows,
    to_arrow,
    to_series,
)


def test_flat_joins_the_chunks_and_keeps_an_array_as_it_is():
    chunked = pa.chunked_array([["a", None], ["b"]])
    joined = flat(chunked)
    assert isinstance(joined, pa.Array) and joined.to_pylist() == ["a", None, "b"]
    arr = pa.array([1, 2])
    assert flat(arr) is arr


def test_to_arrow_gives_large_string_from_series_lists_and_arrays():
    assert to_arrow(pd.Series(["a", None])).type == TEXT
    assert to_arrow(pd.Series(["a", None])).to_pylist() == ["a", None]
    # lists: None and NaN are nulls, other values become their text
    assert to_arrow(["x", None, float("nan"), 3]).to_pylist() == ["x", None, None, "3"]
    assert to_arrow(pa.array(["q"], pa.string())).type == TEXT
    assert to_arrow(pa.chunked_array([["a"], ["b"]])).to_pylist() == ["a", "b"]


def test_to_series_keeps_the_index_and_nulls():
    s = to_series(pa.array(["a", None]), index=[5, 6])
    assert list(s.index) == [5, 6]
    assert s.iloc[0] == "a" and pd.isna(s.iloc[1])


def test_positions_first_of_repeated_keys_and_minus_one_for_absent_or_null():
    # keys: a at 0 and 2 (first wins: 0), b at 1
    assert positions(pd.Series(["b", "z", None, "a"]), pd.Index(["a", "b", "a"])).tolist() == [1, -1, -1, 0]


def test_lookup_numbers_behaves_like_map():
    values = pd.Series(["b", "z", None, "a"], index=[10, 11, 12, 13])
    mapping = pd.Series([1.5, 2.5], index=["a", "b"])
    out = lookup(values, mapping)
    expected = values.map(mapping)
    assert list(out.index) == [10, 11, 12, 13]
    assert out.tolist()[0] == 2.5 and out.tolist()[3] == 1.5
    assert out.isna().tolist() == expected.isna().tolist() == [False, True, True, False]
    assert lookup(values, pd.Series([], dtype=float)).isna().all()  # an empty mapping: all missing


def test_lookup_text_gives_na_for_missing_keys():
    out = lookup(pd.Series(["b", "z", None]), pd.Series(["X", "Y"], index=["a", "b"]))
    assert [None if pd.isna(v) else v for v in out] == ["Y", None, None]


def test_take_at_is_lookup_with_the_positions_searched_once():
    persons = pd.DataFrame({"acc": ["A1", None], "n": [1.0, 2.0]}, index=["p1", "p2"])
    keys = pd.Series(["p2", "p9", None, "p1"], index=[7, 8, 9, 10])
    pos = positions(keys, persons.index)
    for column in ("acc", "n"):
        got, expected = take_at(persons[column], pos, keys.index), lookup(keys, persons[column])
        assert list(got.index) == [7, 8, 9, 10]
        assert got.isna().tolist() == expected.isna().tolist()
        assert got.dropna().tolist() == expected.dropna().tolist()
    assert take_at(persons["acc"], pos, keys.index).tolist()[3] == "A1"


def test_isin_accepts_sets_and_null_is_never_in():
    assert isin(pd.Series(["a", None, "c", "d"]), {"a", "c"}).tolist() == [True, False, True, False]
    assert isin(pd.Series(["a"]), []).tolist() == [False]


def test_dictionary_codes_give_null_its_own_code_past_the_end():
    encoded = pc.dictionary_encode(pa.array(["x", None, "y", "x"]))
    # dictionary is [x, y]: x=0, y=1, null=2
    assert dictionary_codes(encoded).tolist() == [0, 2, 1, 0]


def test_sort_order_is_a_stable_sort_with_nulls_last():
    frame = pd.DataFrame({"a": ["b", "a", None, "a", "a"], "n": [2, 1, 0, 0, 1]})
    # a-rows by n: idx3 (0), idx1 (1), idx4 (1, after idx1: stable); then b (idx0); the null last (idx2)
    order = sort_order(frame, ["a", "n"])
    assert order.tolist() == [3, 1, 4, 0, 2]
    assert order.tolist() == frame.sort_values(["a", "n"], kind="stable").index.tolist()

    dates = pd.DataFrame({"d": np.array([pd.Timestamp("2026-01-03").date(), pd.Timestamp("2026-01-01").date()])})
    assert sort_order(dates, ["d"]).tolist() == [1, 0]  # dates as Python objects


def test_sorted_codes_compare_as_the_text_does_and_nulls_are_minus_one():
    values = pd.Series(["pear", None, "apple", "pear", "Zebra", "apple"])
    dictionary, codes = sorted_codes(values)
    assert dictionary.to_pylist() == ["Zebra", "apple", "pear"]  # byte order: capitals first
    assert codes.tolist() == [2, -1, 1, 2, 0, 1]
    empty_dict, empty_codes = sorted_codes(pd.Series([None, None], dtype="string"))
    assert len(empty_dict) == 0 and empty_codes.tolist() == [-1, -1]


def test_take_rows_on_a_pool_equals_a_plain_take():
    from concurrent.futures import ThreadPoolExecutor

    table = pa.table({"a": ["x", None, "z", "w"], "n": [1, 2, 3, 4], "t": pa.chunked_array([["p", "q"], ["r", "s"]])})
    rows = np.array([3, 0, 2, 2])
    with ThreadPoolExecutor(2) as pool:
        assert take_rows(table, rows, pool).equals(table.take(rows))


def test_distinct_keeps_the_first_seen_order_and_drops_nulls():
    assert distinct(pd.Series(["b", None, "a", "b", "c", "a"])).tolist() == ["b", "a", "c"]


def test_text_codes_of_a_column_read_dictionary_encoded_equal_those_of_its_text():
    """Chunks read dictionary-encoded each hold their own dictionary: the codes must still say
    which rows hold equal values, and the dictionary which value each code is."""
    from include.scoring.core.arrowops import text_codes

    text = [["web", "ad", None, "web"], ["email", "web"], []]
    encoded = pa.chunked_array([pa.array(chunk, pa.string()).dictionary_encode() for chunk in text])
    values, codes = text_codes(encoded)
    flat_text = [v for chunk in text for v in chunk]
    assert [None if c == len(values) else values[c].as_py() for c in codes] == flat_text
    plain_values, plain_codes = text_codes(pa.chunked_array(text, pa.string()))
    assert (codes == plain_codes).all() and values.equals(plain_values)
