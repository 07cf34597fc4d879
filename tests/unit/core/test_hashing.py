"""hash_text must give pandas' hash_array numbers exactly: stored hashes and person keys depend on them.
fingerprints must be equal for equal text and tell apart text that differs in any byte or length."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from include.scoring.core.hashing import fingerprints, hash_ids, hash_text


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


def test_fingerprints_tell_apart_text_differing_in_any_byte_or_length():
    base = "abcdefghijklmnopqrstuvwxyz0123456789ABCD"  # five 8-byte words
    values = [base[:n] for n in range(len(base) + 1)]  # every length, so trailing bytes are masked right
    values += [base[:k] + "#" + base[k + 1 :] for k in range(len(base))]  # one byte changed at every position
    values += [f"a-20261013-{n:07d}" for n in range(200_000)]  # ids as the generator writes them
    values += ["x\x00", "x", "é", "e"]
    prints = fingerprints(pa.array(values))
    assert len(np.unique(prints)) == len(values)


def test_fingerprints_are_equal_for_equal_text_whatever_the_layout():
    values = ["a", "bb", "a", "ccccccccc", "bb", "", "ccccccccc"]
    expected = fingerprints(pa.array(values, pa.string()))
    assert expected[0] == expected[2] and expected[3] == expected[6] and expected[0] != expected[1]
    assert (fingerprints(pa.array(values, pa.large_string())) == expected).all()
    assert (fingerprints(pa.array(["zz", *values]).slice(1)) == expected).all()
    assert (fingerprints(pa.chunked_array([values[:4], values[4:]])) == expected).all()
    assert fingerprints(pa.array([None, ""]))[0] == fingerprints(pa.array([None, ""]))[1]  # then compared as text
    assert len(fingerprints(pa.chunked_array([], pa.string()))) == 0


def test_a_fingerprint_does_not_depend_on_the_longest_text_beside_it():
    alone = fingerprints(pa.array(["e-open-0", "", "abcdefghi"]))
    beside_longer = fingerprints(pa.array(["e-open-0", "", "abcdefghi", "x" * 40]))[:3]
    assert (alone == beside_longer).all()
    assert fingerprints(pa.array([""]))[0] == alone[1]
