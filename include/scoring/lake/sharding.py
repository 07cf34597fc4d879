"""Shards: a stable hash of a key, modulo the shard count (`scale.shards` in the config).

Resolve shards events by identifier, score shards accounts by account id; with the same key and
count, every run puts every row in the same shard.

A resolve shard holds events of every account, so it writes its resolved rows grouped by account
shard, each group in row groups of its own, and says in the file which shard each row group holds
(`SPLIT_KEY`). A score shard then reads just its row groups of each part, with no hashing and
nothing read that it throws away; a file without that note (or split another way) is read whole
and filtered by hash, with the same rows kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from include.scoring.core.arrowops import dictionary_codes, to_arrow

SPLIT_KEY = (
    b"split"  # Parquet key-value metadata: {"column": ..., "shards": N, "row_groups": [shard of each row group]}
)


def shard_of(keys: pd.Series, shards: int) -> np.ndarray:
    """Stable shard number of each key (64-bit hash of the text, modulo the shard count)."""
    if shards == 1:
        return np.zeros(len(keys), np.int64)
    return (pd.util.hash_array(keys.astype("string").fillna("").to_numpy(dtype=object)) % np.uint64(shards)).astype(
        np.int64
    )


def shard_of_column(values: pa.ChunkedArray | pa.Array, shards: int) -> np.ndarray:
    """`shard_of` for an Arrow text column, hashing each distinct value once (an account has many events)."""
    encoded = pc.dictionary_encode(pc.fill_null(to_arrow(values), ""))  # a null id: the shard of "", as in shard_of
    per_value = shard_of(pd.Series(encoded.dictionary.to_numpy(zero_copy_only=False), dtype=object), shards)
    return per_value[dictionary_codes(encoded)]


@dataclass(frozen=True)
class ShardRows:
    """A row filter: the rows whose `column` hashes to shard `shard` of `shards`."""

    column: str
    shard: int
    shards: int

    def __call__(self, batch: pa.Table) -> np.ndarray:
        return shard_of_column(batch.column(self.column), self.shards) == self.shard

    def row_groups(self, note: bytes | None, row_groups: int) -> list[int] | None:
        """The row groups of a file holding this shard's rows, from the file's split note; None
        when the file is not split by this column and shard count, or the note does not fit the
        file's `row_groups` (read it whole and filter)."""
        if not note:
            return None
        split = json.loads(note)
        if (
            split.get("column") != self.column
            or split.get("shards") != self.shards
            or len(split.get("row_groups", ())) != row_groups
        ):
            return None
        return [i for i, shard in enumerate(split["row_groups"]) if shard == self.shard]


@dataclass(frozen=True)
class Split:
    """How a part is written split by shard: `column`, the shard count, and the rows of each shard
    (the table's rows are grouped by shard, in shard order)."""

    column: str
    shards: int
    rows: tuple[int, ...]

    def note(self, row_group_size: int) -> bytes:
        """The split note of the file written with `row_group_size`: the shard of each row group."""
        groups = [shard for shard, n in enumerate(self.rows) for _ in range(-(-n // row_group_size))]
        return json.dumps({"column": self.column, "shards": self.shards, "row_groups": groups}).encode()


def split_by_shard(table: pa.Table, column: str, shards: int) -> tuple[pa.Table, Split]:
    """`table`'s rows grouped by the shard of `column`, each group keeping the rows' order."""
    shard = shard_of_column(table.column(column), shards)
    order = np.argsort(shard, kind="stable")
    rows = np.bincount(shard, minlength=shards)
    return table.take(pa.array(order)), Split(column, shards, tuple(int(n) for n in rows))
