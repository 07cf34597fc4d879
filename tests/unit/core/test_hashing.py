"""hash_text must give pandas' hash_array numbers exactly: stored hashes and person keys depend on them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from include.scoring.core.hashing import hash_ids, hash_text


def _pandas(values: list[str]) -> np.ndarray:
    return pd.util.hash_array(np.array(values, dtype=object))


def test_every_block_length_matches_pandas():
    values = ["x" * n for n in range(40)] + ["é" * n for n in range(20)] + ["1:c_1", "2:a@b.com", "3:ck_9", "😀中文"]
    values += ["long" * 300, "y" * 4097]  # many blocks, and lengths over 255 (only the low byte is mixed in)
    assert (hash_text(pa.array(values)) == _pandas(values)).all()


def test_repeats_slices_chunks_and_string_types():
    values = ["a", "bb", "a", "ccccccccc", "bb", ""] * 3
    expected = _pandas(values)
    assert (hash_text(pa.array(values, pa.large_string())) == expected).all()
    assert (hash_text(pa.array(["zz", *values], pa.string()).slice(1)) == expected).all()
    assert (hash_text(pa.chunked_array([values[:5], values[5:]])) == expected).all()


def test_nulls_hash_as_empty_text_like_hash_ids():
    ids = pd.Series(["e1", None, "e3"], dtype="string")
    assert (hash_text(pa.array(ids.array)) == hash_ids(ids)).all()
    assert len(hash_text(pa.array([], pa.string()))) == 0


@given(st.lists(st.text(st.characters(exclude_categories=("Cs",)), max_size=60), max_size=50))
def test_any_text_matches_pandas(values):
    assert (hash_text(pa.array(values, pa.string())) == _pandas(values)).all()
