"""The Parquet lake: partition paths, atomic writes, reads of a day or a range.

Layout (SPEC section 7): <root>/<dataset>/dt=YYYY-MM-DD/. A partition written by one writer
holds `part-00000.parquet` (and, for some datasets, side files such as validation summaries); it
is written to a temporary folder and renamed into place, so a crash never leaves half a partition
and a re-run replaces it whole. A partition written by sharded tasks holds one file per shard,
`part-KKKKK-of-NNNNN.parquet`, each written to a temporary name and renamed; it is complete when
all N parts are there, and readers refuse an incomplete one. The root is a local folder or any
fsspec URL (s3://...); both go through the same code.

What a crash (a killed worker, a full disk) can leave behind, and how it goes away:
- a temporary sibling `_tmp_dt=D_<token>/` (a crash before the rename) or `_old_dt=D_<token>/`
  (a crash between moving the previous version aside and renaming the new one in: the partition
  then reads as missing, never as half written), next to `dt=D/`;
- inside a sharded partition, a temporary part `_tmp_part-KKKKK-of-NNNNN_<token>.parquet`.
Readers never see them (they look only at `dt=...` folders and `part-...` names, and Parquet
dataset readers skip names starting with `_`), and the next write of the same partition (or of
the same shard) sweeps them. One writer per partition (or shard) at a time, as Airflow runs one
try of a task at a time; different partitions and different shards may be written concurrently.
"""

from __future__ import annotations

import hashlib
import json
import logging
import posixpath
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import date, timedelta

import fsspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from fsspec.implementations.local import LocalFileSystem

from include.scoring.core.errors import LakeError
from include.scoring.lake.catalog import Dataset
from include.scoring.lake.sharding import SPLIT_KEY, ShardRows, Split

log = logging.getLogger(__name__)

DATA_FILE = "part-00000.parquet"
_PART = re.compile(r"^part-(\d{5})-of-(\d{5})\.parquet$")
_TMP_PREFIX = "_tmp_"
_OLD_PREFIX = "_old_"
_EPOCH = date(1970, 1, 1)


def day_str(day: date) -> str:
    return day.isoformat()


def days_between(start: date, end: date) -> list[date]:
    """Every day from start to end, both included."""
    if end < start:
        return []
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


_ROW_GROUP = 256_000  # rows per Parquet row group: what a sharded reader holds at a time


def folder_of(dataset: Dataset) -> str:
    """The dataset's folder under the lake root; a bare string is refused, so that every read and
    write names an entry of the catalog (include/scoring/lake/catalog.py)."""
    if not isinstance(dataset, Dataset):
        raise TypeError(f"the lake takes a catalog entry (include.scoring.lake.catalog), not {dataset!r}")
    return dataset.name


def part_name(shard: int, shards: int) -> str:
    return f"part-{shard:05d}-of-{shards:05d}.parquet"


def _as_table(table: pa.Table | pd.DataFrame | None, schema: pa.Schema | None) -> pa.Table:
    if isinstance(table, pd.DataFrame):
        table = pa.Table.from_pandas(table, schema=schema, preserve_index=False)
    elif table is None:
        if schema is None:
            raise ValueError("a table or a schema is needed")
        table = schema.empty_table()
    elif schema is not None and not table.schema.equals(schema):
        table = table.select(schema.names).cast(schema)
    return table.replace_schema_metadata(None)


class Lake:
    """A lake rooted at a local path or fsspec URL."""

    def __init__(self, root: str):
        self.root = str(root).rstrip("/")
        self.fs, self._base = fsspec.core.url_to_fs(self.root)
        self.is_local = isinstance(self.fs, LocalFileSystem)

    def __repr__(self) -> str:
        return f"Lake({self.root!r})"

    # Paths --------------------------------------------------------------------------------------
    def dataset_path(self, dataset: Dataset) -> str:
        return posixpath.join(self._base, folder_of(dataset))

    def partition_path(self, dataset: Dataset, day: date) -> str:
        return posixpath.join(self._base, folder_of(dataset), f"dt={day_str(day)}")

    def url(self, dataset: Dataset, day: date, name: str = "") -> str:
        """A user-facing location of a partition (or a file in it) for logs and messages."""
        path = posixpath.join(self.root, folder_of(dataset), f"dt={day_str(day)}")
        return posixpath.join(path, name) if name else path

    # Writes -------------------------------------------------------------------------------------
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
        table = _as_table(table, schema)
        target = self.partition_path(dataset, day)
        parent = posixpath.dirname(target)
        self._sweep_siblings(parent, posixpath.basename(target))
        token = uuid.uuid4().hex[:12]
        tmp = posixpath.join(parent, f"{_TMP_PREFIX}{posixpath.basename(target)}_{token}")
        self.fs.makedirs(tmp, exist_ok=True)
        try:
            with self.fs.open(posixpath.join(tmp, DATA_FILE), "wb") as fh:
                pq.write_table(table, fh, compression="zstd", row_group_size=_ROW_GROUP)
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
        for prefix in (_TMP_PREFIX, _OLD_PREFIX):
            for stale in self.fs.glob(posixpath.join(parent, f"{prefix}{name}_*")):
                log.warning("removing %s, left by an interrupted write of %s", stale, posixpath.join(parent, name))
                try:
                    self.fs.rm(stale, recursive=True)
                except FileNotFoundError:
                    pass

    def _swap_into_place(self, tmp: str, target: str, token: str) -> None:
        old = None
        if self.fs.exists(target):
            old = posixpath.join(posixpath.dirname(target), f"{_OLD_PREFIX}{posixpath.basename(target)}_{token}")
            self.fs.mv(target, old, recursive=True)
        self.fs.mv(tmp, target, recursive=True)
        if old is not None:
            self.fs.rm(old, recursive=True)

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
        table = _as_table(table, schema)
        notes = {}
        if metadata:
            notes[b"engagement"] = json.dumps(metadata, sort_keys=True).encode()
        if split is not None and table.num_rows:
            notes[SPLIT_KEY] = split.note(_ROW_GROUP)
        if notes:
            table = table.replace_schema_metadata(notes)
        folder = self.partition_path(dataset, day)
        self.fs.makedirs(folder, exist_ok=True)
        mine = re.compile(rf"^part-\d{{5}}-of-{shards:05d}\.parquet$")
        # temporary parts of the other shards of this layout may be in flight: leave them alone
        in_flight = re.compile(rf"^{_TMP_PREFIX}part-\d{{5}}-of-{shards:05d}_")
        own_temp = f"{_TMP_PREFIX}{part_name(shard, shards).removesuffix('.parquet')}_"
        for entry in self.fs.ls(folder, detail=False):
            name = posixpath.basename(entry)
            if name.startswith(_TMP_PREFIX):
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
        tmp = posixpath.join(folder, f"{own_temp}{uuid.uuid4().hex[:12]}.parquet")
        try:
            with self.fs.open(tmp, "wb") as fh:
                skip = set(no_statistics)
                statistics = [name for name in table.column_names if name not in skip] if skip else True
                if SPLIT_KEY in notes:
                    with pq.ParquetWriter(
                        fh, table.schema, compression="zstd", use_dictionary=dictionary, write_statistics=statistics
                    ) as out:
                        start = 0
                        for n in split.rows:  # one write per shard: its rows never share a row group with another's
                            if n:
                                out.write_table(table.slice(start, n), row_group_size=_ROW_GROUP)
                            start += n
                else:
                    pq.write_table(
                        table,
                        fh,
                        compression="zstd",
                        row_group_size=_ROW_GROUP,
                        use_dictionary=dictionary,
                        write_statistics=statistics,
                    )
            self.fs.mv(tmp, final)
        except BaseException:
            if self.fs.exists(tmp):
                self.fs.rm(tmp)
            raise
        return self.url(dataset, day)

    def delete_partition(self, dataset: Dataset, day: date) -> None:
        target = self.partition_path(dataset, day)
        if self.fs.exists(target):
            self.fs.rm(target, recursive=True)

    # Reads --------------------------------------------------------------------------------------
    def _files(self, dataset: Dataset, day: date) -> list[str] | None:
        """The data files of a complete partition, in order; None when it is missing.
        Raises LakeError when a sharded partition lacks some of its parts."""
        folder = self.partition_path(dataset, day)
        single = posixpath.join(folder, DATA_FILE)
        if self.fs.exists(single):
            return [single]
        if not self.fs.exists(folder):
            return None
        parts = {}
        for entry in self.fs.ls(folder, detail=False):
            match = _PART.match(posixpath.basename(entry))
            if match:
                parts.setdefault(int(match.group(2)), {})[int(match.group(1))] = entry
        if not parts:
            return None
        if len(parts) > 1:
            raise LakeError(
                f"lake partition {self.url(dataset, day)} mixes shard layouts {sorted(parts)}; re-run the stage that writes {dataset.name!r} for {day}."
            )
        ((total, found),) = parts.items()
        missing = [k for k in range(total) if k not in found]
        if missing:
            raise LakeError(
                f"lake partition {self.url(dataset, day)} is incomplete: shard(s) {missing} of {total} missing. "
                f"Re-run the sharded tasks that write {dataset.name!r} for {day}."
            )
        return [found[k] for k in range(total)]

    def exists(self, dataset: Dataset, day: date) -> bool:
        try:
            return self._files(dataset, day) is not None
        except LakeError:
            return False

    def read(
        self, dataset: Dataset, day: date, columns: Iterable[str] | None = None, *, missing_ok: bool = False
    ) -> pa.Table | None:
        """Read one partition; a missing or corrupt one raises LakeError naming the file."""
        files = self._files(dataset, day)
        if files is None:
            if missing_ok:
                return None
            raise LakeError(
                f"lake partition {self.url(dataset, day)} does not exist. Run the stage that "
                f"writes {dataset.name!r} for {day} first (python -m include.scoring run --start {day} "
                f"--end {day})."
            )
        tables = [self._read_file(f, dataset, day, columns) for f in files]
        return tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="permissive")

    def _read_file(self, path: str, dataset: Dataset, day: date, columns: Iterable[str] | None) -> pa.Table:
        try:
            with self.fs.open(path, "rb") as fh:
                return pq.read_table(fh, columns=list(columns) if columns is not None else None)
        except (pa.ArrowInvalid, pa.ArrowException, OSError, KeyError) as exc:
            raise LakeError(
                f"lake file {self.url(dataset, day, posixpath.basename(path))} is unreadable or corrupt ({exc}). "
                f"Re-run the stage that writes {dataset.name!r} for {day} to rebuild it."
            ) from None

    def read_where(
        self,
        dataset: Dataset,
        day: date,
        keep: Callable[[pa.Table], np.ndarray],
        columns: Iterable[str] | None = None,
        *,
        missing_ok: bool = False,
    ) -> pa.Table | None:
        """The rows of a partition for which `keep(batch)` is true, read one row group at a time,
        so memory is bounded by the rows kept, not by the partition (sharded tasks use this).
        A file split by the shard key of `keep` (a `ShardRows`) gives just the shard's row groups."""
        files = self._files(dataset, day)
        if files is None:
            if missing_ok:
                return None
            return self.read(dataset, day)  # raises the usual LakeError
        kept = []
        for path in files:
            try:
                with self.fs.open(path, "rb") as fh:
                    pf = pq.ParquetFile(fh)
                    groups = (
                        keep.row_groups((pf.schema_arrow.metadata or {}).get(SPLIT_KEY), pf.num_row_groups)
                        if isinstance(keep, ShardRows)
                        else None
                    )
                    if groups is not None:
                        kept.append(pf.read_row_groups(groups, columns=list(columns) if columns is not None else None))
                        continue
                    for i in range(pf.num_row_groups):
                        batch = pf.read_row_group(i, columns=list(columns) if columns is not None else None)
                        mask = keep(batch)
                        if mask.any():
                            kept.append(batch.filter(pa.array(mask)))
                    if not kept:
                        kept.append(
                            pf.schema_arrow.empty_table().select(
                                list(columns) if columns is not None else pf.schema_arrow.names
                            )
                        )
            except (pa.ArrowInvalid, pa.ArrowException, OSError) as exc:
                raise LakeError(
                    f"lake file {self.url(dataset, day, posixpath.basename(path))} is unreadable or corrupt ({exc}). "
                    f"Re-run the stage that writes {dataset.name!r} for {day} to rebuild it."
                ) from None
        return pa.concat_tables(kept, promote_options="permissive")

    def read_df(
        self, dataset: Dataset, day: date, columns: Iterable[str] | None = None, *, missing_ok: bool = False
    ) -> pd.DataFrame | None:
        table = self.read(dataset, day, columns, missing_ok=missing_ok)
        return None if table is None else table.to_pandas()

    def read_range(
        self,
        dataset: Dataset,
        start: date,
        end: date,
        columns: Iterable[str] | None = None,
        *,
        missing_ok: bool = True,
        add_day: bool = False,
        keep: Callable[[pa.Table], np.ndarray] | None = None,
    ) -> pa.Table | None:
        """Concatenate the partitions of [start, end]; missing days are skipped when missing_ok."""
        tables = []
        for day in days_between(start, end):
            if keep is None:
                table = self.read(dataset, day, columns, missing_ok=missing_ok)
            else:
                table = self.read_where(dataset, day, keep, columns, missing_ok=missing_ok)
            if table is None:
                continue
            if add_day:
                table = table.append_column(
                    "dt", pa.array(np.full(table.num_rows, (day - _EPOCH).days, np.int32)).view(pa.date32())
                )
            tables.append(table)
        if not tables:
            return None
        return pa.concat_tables(tables, promote_options="permissive")

    def read_side_file(self, dataset: Dataset, day: date, name: str) -> bytes | None:
        path = posixpath.join(self.partition_path(dataset, day), name)
        if not self.fs.exists(path):
            return None
        with self.fs.open(path, "rb") as fh:
            return fh.read()

    def part_metadata(self, dataset: Dataset, day: date) -> list[dict] | None:
        """The `engagement` metadata stored in each part of a partition (None when missing)."""
        files = self._files(dataset, day) if self.exists(dataset, day) else None
        if files is None:
            return None
        out = []
        for path in files:
            meta = self._footer(path, dataset, day, lambda pf: pf.schema_arrow.metadata) or {}
            out.append(json.loads(meta.get(b"engagement", b"{}")))
        return out

    def _footer(self, path: str, dataset: Dataset, day: date, get: Callable[[pq.ParquetFile], object]):
        """Something from a file's Parquet footer; a corrupt file raises LakeError naming it."""
        try:
            with self.fs.open(path, "rb") as fh:
                return get(pq.ParquetFile(fh))
        except (pa.ArrowInvalid, pa.ArrowException, OSError) as exc:
            raise LakeError(
                f"lake file {self.url(dataset, day, posixpath.basename(path))} is unreadable or corrupt ({exc}). "
                f"Re-run the stage that writes {dataset.name!r} for {day} to rebuild it."
            ) from None

    def days(self, dataset: Dataset) -> list[date]:
        """Days that have a complete partition of `dataset`, sorted."""
        base = self.dataset_path(dataset)
        if not self.fs.exists(base):
            return []
        out = []
        for entry in self.fs.ls(base, detail=False):
            name = posixpath.basename(entry.rstrip("/"))
            if name.startswith("dt="):
                try:
                    day = date.fromisoformat(name[3:])
                except ValueError:
                    continue
                if self.exists(dataset, day):
                    out.append(day)
        return sorted(out)

    def checksum(self, dataset: Dataset, day: date) -> str:
        """A digest of a partition's file bytes: equal digests, equal content (a cheap way to see
        that a daily snapshot did not change). Missing partitions raise LakeError like read."""
        files = self._files(dataset, day)
        if files is None:
            self.read(dataset, day)  # raises the usual message
        digest = hashlib.blake2b(digest_size=16)
        for path in files:
            with self.fs.open(path, "rb") as fh:
                digest.update(fh.read())
        return digest.hexdigest()

    def row_count(self, dataset: Dataset, day: date) -> int:
        """Rows of a partition from its Parquet footers (no data read); 0 when missing."""
        files = self._files(dataset, day) if self.exists(dataset, day) else None
        total = 0
        for path in files or []:
            total += self._footer(path, dataset, day, lambda pf: pf.metadata.num_rows)
        return total
