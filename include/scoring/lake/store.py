"""The Parquet lake: partition paths, reads of a day or a range, and (from atomic.py) writes.

Layout (SPEC section 7): <root>/<dataset>/dt=YYYY-MM-DD/, where each dataset is an entry of the
catalog (catalog.py). A partition is one file (`part-00000.parquet`, side files beside it) or one
file per shard (`part-KKKKK-of-NNNNN.parquet`); readers refuse an incomplete sharded partition
and never see what an interrupted write left (`_tmp_...`, `_old_...`: names starting with `_`).
The root is a local folder or any fsspec URL (s3://..., storage.py); both go through the same code,
except that an object store, having no rename, keeps a single-writer partition's files in its
current generation, `dt=YYYY-MM-DD/_gen_<token>/`, named by `dt=YYYY-MM-DD/_manifest.json`
(generations.py), which readers follow. One writer
per partition (or shard) at a time, as Airflow runs one try of a task at a time; different
partitions and different shards may be written concurrently.
"""

from __future__ import annotations

import hashlib
import json
import logging
import posixpath
import re
from collections.abc import Callable, Iterable
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from include.scoring.core.errors import LakeError, LakeUnavailable
from include.scoring.core.memory import use_jemalloc
from include.scoring.core.urls import mask_url
from include.scoring.lake import generations
from include.scoring.lake.atomic import DATA_FILE, PartitionWrites
from include.scoring.lake.catalog import Dataset
from include.scoring.lake.sharding import SPLIT_KEY, ShardRows
from include.scoring.lake.storage import open_root, renames_atomically, store_errors

log = logging.getLogger(__name__)
# every stage reads and writes through the lake: its process allocates from jemalloc (core/memory.py)
use_jemalloc()

_PART = re.compile(r"^part-(\d{5})-of-(\d{5})\.parquet$")
_EPOCH = date(1970, 1, 1)


def day_str(day: date) -> str:
    return day.isoformat()


def days_between(start: date, end: date) -> list[date]:
    """Every day from start to end, both included."""
    if end < start:
        return []
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def folder_of(dataset: Dataset) -> str:
    """The dataset's folder under the lake root; a bare string is refused, so that every read and
    write names an entry of the catalog (include/scoring/lake/catalog.py)."""
    if not isinstance(dataset, Dataset):
        raise TypeError(f"the lake takes a catalog entry (include.scoring.lake.catalog), not {dataset!r}")
    return dataset.name


class Lake(PartitionWrites):
    """A lake rooted at a local path or fsspec URL."""

    def __init__(self, root: str):
        self.root = str(root).rstrip("/")
        self.fs, self._base = open_root(self.root)
        #: a local filesystem: partitions are renamed into place; otherwise generations and a manifest
        self.is_local = renames_atomically(self.fs)

    def __repr__(self) -> str:
        return f"Lake({mask_url(self.root)!r})"

    # Paths --------------------------------------------------------------------------------------
    def dataset_path(self, dataset: Dataset) -> str:
        return posixpath.join(self._base, folder_of(dataset))

    def partition_path(self, dataset: Dataset, day: date) -> str:
        return posixpath.join(self._base, folder_of(dataset), f"dt={day_str(day)}")

    def url(self, dataset: Dataset, day: date, name: str = "") -> str:
        """A user-facing location of a partition (or a file in it) for logs and messages."""
        path = posixpath.join(self.root, folder_of(dataset), f"dt={day_str(day)}")
        return posixpath.join(path, name) if name else path

    @store_errors
    def current_folder(self, dataset: Dataset, day: date) -> str:
        """Where a single-writer partition's files are now: its folder, or on an object store the
        generation its manifest names (the folder itself when it has none)."""
        folder = self.partition_path(dataset, day)
        if self.is_local:
            return folder
        return generations.current(self.fs, folder) or folder

    # Reads --------------------------------------------------------------------------------------
    def _files(self, dataset: Dataset, day: date) -> list[str] | None:
        """The data files of a complete partition, in order; None when it is missing.
        Raises LakeError when a sharded partition lacks some of its parts."""
        folder = self.partition_path(dataset, day)
        single = posixpath.join(self.current_folder(dataset, day), DATA_FILE)
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
                f"lake partition {self.url(dataset, day)} mixes shard layouts {sorted(parts)}; re-run the stage that "
                f"writes {dataset.name!r} for {day}."
            )
        ((total, found),) = parts.items()
        missing = [k for k in range(total) if k not in found]
        if missing:
            raise LakeError(
                f"lake partition {self.url(dataset, day)} is incomplete: shard(s) {missing} of {total} missing. "
                f"Re-run the sharded tasks that write {dataset.name!r} for {day}."
            )
        return [found[k] for k in range(total)]

    @store_errors
    def exists(self, dataset: Dataset, day: date) -> bool:
        try:
            return self._files(dataset, day) is not None
        except LakeUnavailable:  # not "missing": the store did not answer
            raise
        except LakeError:
            return False

    @store_errors
    def read(
        self,
        dataset: Dataset,
        day: date,
        columns: Iterable[str] | None = None,
        *,
        missing_ok: bool = False,
        dictionary: Iterable[str] = (),
    ) -> pa.Table | None:
        """Read one partition; a missing or corrupt one raises LakeError naming the file.
        `dictionary`: text columns read dictionary-encoded, as the file stores them (no string
        per row is built; each file's chunks keep their own dictionary)."""
        files = self._files(dataset, day)
        if files is None:
            if missing_ok:
                return None
            raise LakeError(
                f"lake partition {self.url(dataset, day)} does not exist. Run the stage that "
                f"writes {dataset.name!r} for {day} first (python -m include.scoring run --start {day} "
                f"--end {day})."
            )
        tables = [self._read_file(f, dataset, day, columns, dictionary) for f in files]
        return tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="permissive")

    @store_errors
    def read_parts(self, dataset: Dataset, day: date) -> list[pa.Table]:
        """Each file of a partition as written (a sharded partition: one table per shard, in order)."""
        files = self._files(dataset, day)
        if files is None:
            self.read(dataset, day)  # raises the usual LakeError
        return [self._read_file(f, dataset, day, None) for f in files]

    def _read_file(
        self, path: str, dataset: Dataset, day: date, columns: Iterable[str] | None, dictionary: Iterable[str] = ()
    ) -> pa.Table:
        try:
            # the file's bytes first, then parsed from memory: Arrow's reader threads never call back
            # into a Python file object, which, after a corrupt file's error, could abort (SIGABRT)
            # or hang the process at exit while a column read was still in flight
            with self.fs.open(path, "rb") as fh:
                data = fh.read()
            return pq.read_table(
                pa.BufferReader(data),
                columns=list(columns) if columns is not None else None,
                read_dictionary=list(dictionary) or None,
            )
        except (pa.ArrowInvalid, pa.ArrowException, OSError, KeyError) as exc:
            raise LakeError(
                f"lake file {self.url(dataset, day, posixpath.basename(path))} is unreadable or corrupt ({exc}). "
                f"Re-run the stage that writes {dataset.name!r} for {day} to rebuild it."
            ) from None

    @store_errors
    def read_where(
        self,
        dataset: Dataset,
        day: date,
        keep: Callable[[pa.Table], np.ndarray],
        columns: Iterable[str] | None = None,
        *,
        missing_ok: bool = False,
        dictionary: Iterable[str] = (),
    ) -> pa.Table | None:
        """The rows of a partition for which `keep(batch)` is true, read one row group at a time,
        so memory is bounded by the rows kept, not by the partition (sharded tasks use this).
        A file split by the shard key of `keep` (a `ShardRows`) gives just the shard's row groups."""
        files = self._files(dataset, day)
        if files is None:
            if missing_ok:
                return None
            return self.read(dataset, day)  # raises the usual LakeError
        kept, dictionary = [], list(dictionary) or None
        for path in files:
            try:
                with self.fs.open(path, "rb") as fh:
                    pf = pq.ParquetFile(fh, read_dictionary=dictionary)
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
        dictionary: Iterable[str] = (),
    ) -> pa.Table | None:
        """Concatenate the partitions of [start, end]; missing days are skipped when missing_ok.
        `dictionary`: as in `read`."""
        tables = []
        for day in days_between(start, end):
            if keep is None:
                table = self.read(dataset, day, columns, missing_ok=missing_ok, dictionary=dictionary)
            else:
                table = self.read_where(dataset, day, keep, columns, missing_ok=missing_ok, dictionary=dictionary)
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

    @store_errors
    def read_side_file(self, dataset: Dataset, day: date, name: str) -> bytes | None:
        path = posixpath.join(self.current_folder(dataset, day), name)
        if not self.fs.exists(path):
            return None
        with self.fs.open(path, "rb") as fh:
            return fh.read()

    @store_errors
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

    @store_errors
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

    @store_errors
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

    @store_errors
    def row_count(self, dataset: Dataset, day: date) -> int:
        """Rows of a partition from its Parquet footers (no data read); 0 when missing."""
        files = self._files(dataset, day) if self.exists(dataset, day) else None
        total = 0
        for path in files or []:
            total += self._footer(path, dataset, day, lambda pf: pf.metadata.num_rows)
        return total
