"""Shards: a stable hash of a key, modulo the shard count (`scale.shards` in the config).

Resolve shards events by identifier, score shards accounts by account id; with the same key and
count, every run puts every row in the same shard.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def shard_of(keys: pd.Series, shards: int) -> np.ndarray:
    """Stable shard number of each key (64-bit hash of the text, modulo the shard count)."""
    if shards == 1:
        return np.zeros(len(keys), np.int64)
    return (pd.util.hash_array(keys.astype("string").fillna("").to_numpy(dtype=object)) % np.uint64(shards)).astype(np.int64)
