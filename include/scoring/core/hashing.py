"""Hashes of event ids, as the `event_ids/<source>` datasets store them (duplicate checks across
days, and erasure, compare ids without keeping them)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def hash_ids(ids: pd.Series) -> np.ndarray:
    """A 64-bit hash per id (pandas' stable hash of the text; a missing id hashes as '')."""
    return pd.util.hash_array(ids.fillna("").astype(str).to_numpy(dtype=object))
