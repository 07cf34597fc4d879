"""Atomic lake writes: a partition replaced whole, or one shard's part of it.

A partition written by one writer holds `part-00000.parquet` (and, for some datasets, side files
such as validation summaries); it is written to a temporary folder and renamed into place, so a
crash never leaves half a partition and a re-run replaces it whole. A partition written by
sharded tasks holds one file per shard, `part-KKKKK-of-NNNNN.parquet`, each written to a
temporary name and renamed; it is complete when all N parts are there (readers refuse an
incomplete one). What a crash can leave behind (`_tmp_...`, `_old_...` siblings, temporary parts)
is invisible to readers and swept by the next write of the same partition or shard.

That is on a local filesystem. An object store has no rename: there a partition is written as a
new generation and switched by a manifest, and a shard's part is one PUT (generations.py).
"""

from __future__ import annotations

import json
import logging
import posixpath
import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import date
from functools import partial

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from include.scoring.lake import generations
from include.scoring.lake.catalog import Dataset
from include.scoring.lake.sharding import SPLIT_KEY, Split
from include.scoring.lake.storage import store_errors

log = logging.getLogger(__name__)

DATA_FILE = "part-00000.parquet"
TMP_PREFIX = "_tmp_"
OLD_PREFIX = "_old_"
ROW_GROUP_ROWS = 256_000  # rows per Parquet row group: what a sharded reader holds at a time


def part_name(shard: int, shards: int) -> str:
    return f"part-{shard:05d}-of-{shards:05d}.parquet"


def as_table(table: pa.Table | pd.DataFrame | None, schema: pa.Schema | None) -> pa.Table:
    if isinstance(table, pd.DataFrame):
        table = pa.Table.from_pandas(table, schema=schema, preserve_index=False)
    elif table is None:
        if schema is None:
            raise ValueError("a table or a schema is needed")
        table = schema.empty_table()
    elif schema is not None and not table.schema.equals(schema):
        table = table.select(schema.names).cast(schema)
    return table.replace_schema_metadata(None)


def parquet_bytes(table: pa.Table) -> bytes:
    """A single-writer partition's data file, as written to a local file too."""
    out = pa.BufferOutputStream()
    pq.write_table(table, out, compression="zstd", row_group_size=ROW_GROUP_ROWS)
    return out.getvalue().to_pybytes()


def side_file_bytes(side_files: Mapping[str, bytes | str] | None) -> dict[str, bytes]:
    return {name: c.encode("utf-8") if isinstance(c, str) else c for name, c in (side_files or {}).items()}


class PartitionWrites:
    """The write half of `Lake` (include/scoring/lake/store.py), which provides `fs`, `is_local`,
    `partition_path` and `url`."""

    @store_errors
    def write_partition(
        self,
        dataset: Dataset,
        day: date,
        table: pa.Table | pd.DataFrame | None,
        side_files: Mapping[str, bytes | str] | None = None,
        schema: pa.Schema | None = None,
    ) -> str:
        """Replace dataset/dt=day atomically with `table` (and side files). Returns its path.

        The data file is always written, even for zero rows, so readers get the schema.
        """
        table = as_table(table, schema)
        target = self.partition_path(dataset, day)
        if not self.is_local:
            generations.write_generation(
                self.fs, target, {DATA_FILE: parquet_bytes(table), **side_file_bytes(side_files)}
            )
            log.debug("wrote %s rows to %s", table.num_rows, target)
            return self.url(dataset, day)
        parent = posixpath.dirname(target)
        self._sweep_siblings(parent, posixpath.basename(target))
        token = uuid.uuid4().hex[:12]
        tmp = posixpath.join(parent, f"{TMP_PREFIX}{posixpath.basename(target)}_{token}")
        self.fs.makedirs(tmp, exist_ok=True)
        try:
            with self.fs.open(posixpath.join(tmp, DATA_FILE), "wb") as fh:
                pq.write_table(table, fh, compression="zstd", row_group_size=ROW_GROUP_ROWS)
            for name, content in (side_files or {}).items():
                data = content.encode("utf-8") if isinstance(content, str) else content
                file_path = posixpath.join(tmp, name)
                self.fs.makedirs(posixpath.dirname(file_path), exist_ok=True)
                with self.fs.open(file_path, "wb") as fh:
                    fh.write(data)
            self._swap_into_place(tmp, target, token)
        except BaseException:
            if self.fs.exists(tmp):
                self.fs.rm(tmp, recursive=True)
            raise
        log.debug("wrote %s rows to %s", table.num_rows, target)
        return self.url(dataset, day)

    def _sweep_siblings(self, parent: str, name: str) -> None:
        """Remove what a crashed earlier write of partition `name` left next to it."""
        if not self.fs.exists(parent):
            return
        for prefix in (TMP_PREFIX, OLD_PREFIX):
            for stale in self.fs.glob(posixpath.join(parent, f"{prefix}{name}_*")):
                log.warning("removing %s, left by an interrupted write of %s", stale, posixpath.join(parent, name))
                try:
                    self.fs.rm(stale, recursive=True)
                except FileNotFoundError:
                    pass

    def _swap_into_place(self, tmp: str, target: str, token: str) -> None:
        old = None
        if self.fs.exists(target):
            old = posixpath.join(posixpath.dirname(target), f"{OLD_PREFIX}{posixpath.basename(target)}_{token}")
            self.fs.mv(target, old, recursive=True)
        self.fs.mv(tmp, target, recursive=True)
        if old is not None:
            self.fs.rm(old, recursive=True)

    @store_errors
    def write_part(
        self,
        dataset: Dataset,
        day: date,
        shard: int,
        shards: int,
        table: pa.Table | pd.DataFrame | None,
        schema: pa.Schema | None = None,
        metadata: dict | None = None,
        dictionary: bool | list[str] = True,
        no_statistics: Iterable[str] = (),
        split: Split | None = None,
    ) -> str:
        """Write shard `shard` of `shards` of a partition (temp file, then rename). Files of
        another layout (another shard count, or a single-writer file) are removed first.
        `dictionary`: the columns to dictionary-encode (a column with a value per row, such as an
        id, gains nothing from it and costs a hash per value). `no_statistics`: columns written
        without min/max statistics (ids and emails: their range over a file prunes nothing).
        `split`: the rows are grouped by another shard key (resolve's parts, by account shard):
        each group gets row groups of its own, and the file notes which shard each holds, so
        `read_where` with a `ShardRows` of that key reads only its row groups."""
        table = as_table(table, schema)
        notes = {}
        if metadata:
            notes[b"engagement"] = json.dumps(metadata, sort_keys=True).encode()
        if split is not None and table.num_rows:
            notes[SPLIT_KEY] = split.note(ROW_GROUP_ROWS)
        if notes:
            table = table.replace_schema_metadata(notes)
        folder = self.partition_path(dataset, day)
        if self.is_local:
            self.fs.makedirs(folder, exist_ok=True)
            entries = self.fs.ls(folder, detail=False)
        else:
            entries = generations.leave_single_writer_layout(self.fs, folder, self._entries(folder))
        mine = re.compile(rf"^part-\d{{5}}-of-{shards:05d}\.parquet$")
        # temporary parts of the other shards of this layout may be in flight: leave them alone
        in_flight = re.compile(rf"^{TMP_PREFIX}part-\d{{5}}-of-{shards:05d}_")
        own_temp = f"{TMP_PREFIX}{part_name(shard, shards).removesuffix('.parquet')}_"
        for entry in entries:
            name = posixpath.basename(entry)
            if name.startswith(TMP_PREFIX):
                stale = name.startswith(own_temp) or not in_flight.match(
                    name
                )  # this shard's crashed write, or another layout's
            else:
                stale = name.endswith(".parquet") and not mine.match(name)
            if stale:
                try:
                    self.fs.rm(entry)
                except FileNotFoundError:  # another shard removed it first
                    pass
        final = posixpath.join(folder, part_name(shard, shards))
        write = partial(
            _write_part_file, table=table, notes=notes, split=split, dictionary=dictionary, skip=no_statistics
        )
        if not self.is_local:  # one object, one PUT: atomic without a temporary name
            out = pa.BufferOutputStream()
            write(out)
            generations.put(self.fs, final, out.getvalue().to_pybytes())
            return self.url(dataset, day)
        tmp = posixpath.join(folder, f"{own_temp}{uuid.uuid4().hex[:12]}.parquet")
        try:
            with self.fs.open(tmp, "wb") as fh:
                write(fh)
            self.fs.mv(tmp, final)
        except BaseException:
            if self.fs.exists(tmp):
                self.fs.rm(tmp)
            raise
        return self.url(dataset, day)

    def _entries(self, folder: str) -> list[str]:
        try:
            return self.fs.ls(folder, detail=False)
        except FileNotFoundError:
            return []

    @store_errors
    def delete_partition(self, dataset: Dataset, day: date) -> None:
        target = self.partition_path(dataset, day)
        if self.fs.exists(target):
            self.fs.rm(target, recursive=True)


def _write_part_file(
    fh, table: pa.Table, notes: dict, split: Split | None, dictionary: bool | list[str], skip: Iterable[str]
) -> None:
    """A shard's part file (see `PartitionWrites.write_part`) written to an open file or buffer."""
    skip = set(skip)
    statistics = [name for name in table.column_names if name not in skip] if skip else True
    if SPLIT_KEY in notes:
        with pq.ParquetWriter(
            fh, table.schema, compression="zstd", use_dictionary=dictionary, write_statistics=statistics
        ) as out:
            start = 0
            for n in split.rows:  # one write per shard: its rows never share a row group with another's
                if n:
                    out.write_table(table.slice(start, n), row_group_size=ROW_GROUP_ROWS)
                start += n
    else:
        pq.write_table(
            table,
            fh,
            compression="zstd",
            row_group_size=ROW_GROUP_ROWS,
            use_dictionary=dictionary,
            write_statistics=statistics,
        )
