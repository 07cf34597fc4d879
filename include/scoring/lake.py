"""The Parquet lake: partition paths, atomic partition writes, reads of a day or a range.

Layout (SPEC section 7): <root>/<dataset>/dt=YYYY-MM-DD/ with `part-00000.parquet` and, for some
datasets, side files (validation summaries, Data Docs). A partition is written to a temporary
folder and renamed into place, so a crash never leaves a half-written partition behind, and a
re-run replaces the whole partition. The root is a local folder or any fsspec URL (s3://...);
both go through the same code.
"""

from __future__ import annotations

import logging
import posixpath
import uuid
from collections.abc import Iterable, Mapping
from datetime import date, timedelta

import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from fsspec.implementations.local import LocalFileSystem

from include.scoring.errors import LakeError

log = logging.getLogger(__name__)

DATA_FILE = "part-00000.parquet"
_TMP_PREFIX = "_tmp_"
_OLD_PREFIX = "_old_"


def day_str(day: date) -> str:
    return day.isoformat()


def days_between(start: date, end: date) -> list[date]:
    """Every day from start to end, both included."""
    if end < start:
        return []
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


class Lake:
    """A lake rooted at a local path or fsspec URL."""

    def __init__(self, root: str):
        self.root = str(root).rstrip("/")
        self.fs, self._base = fsspec.core.url_to_fs(self.root)
        self.is_local = isinstance(self.fs, LocalFileSystem)

    def __repr__(self) -> str:
        return f"Lake({self.root!r})"

    # Paths --------------------------------------------------------------------------------------
    def dataset_path(self, dataset: str) -> str:
        return posixpath.join(self._base, dataset)

    def partition_path(self, dataset: str, day: date) -> str:
        return posixpath.join(self._base, dataset, f"dt={day_str(day)}")

    def url(self, dataset: str, day: date, name: str = "") -> str:
        """A user-facing location of a partition (or a file in it) for logs and messages."""
        path = posixpath.join(self.root, dataset, f"dt={day_str(day)}")
        return posixpath.join(path, name) if name else path

    # Writes -------------------------------------------------------------------------------------
    def write_partition(
        self,
        dataset: str,
        day: date,
        table: pa.Table | pd.DataFrame | None,
        side_files: Mapping[str, bytes | str] | None = None,
        schema: pa.Schema | None = None,
    ) -> str:
        """Replace dataset/dt=day atomically with `table` (and side files). Returns its path.

        The data file is always written, even for zero rows, so readers get the schema.
        """
        if isinstance(table, pd.DataFrame):
            table = pa.Table.from_pandas(table, schema=schema, preserve_index=False)
        elif table is None:
            if schema is None:
                raise ValueError("write_partition needs a table or a schema")
            table = schema.empty_table()
        elif schema is not None and not table.schema.equals(schema):
            table = table.select(schema.names).cast(schema)
        table = table.replace_schema_metadata(None)
        target = self.partition_path(dataset, day)
        parent = posixpath.dirname(target)
        token = uuid.uuid4().hex[:12]
        tmp = posixpath.join(parent, f"{_TMP_PREFIX}{posixpath.basename(target)}_{token}")
        self.fs.makedirs(tmp, exist_ok=True)
        try:
            with self.fs.open(posixpath.join(tmp, DATA_FILE), "wb") as fh:
                pq.write_table(table, fh, compression="zstd", row_group_size=256_000)
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

    def _swap_into_place(self, tmp: str, target: str, token: str) -> None:
        old = None
        if self.fs.exists(target):
            old = posixpath.join(
                posixpath.dirname(target), f"{_OLD_PREFIX}{posixpath.basename(target)}_{token}"
            )
            self.fs.mv(target, old, recursive=True)
        self.fs.mv(tmp, target, recursive=True)
        if old is not None:
            self.fs.rm(old, recursive=True)

    def delete_partition(self, dataset: str, day: date) -> None:
        target = self.partition_path(dataset, day)
        if self.fs.exists(target):
            self.fs.rm(target, recursive=True)

    # Reads --------------------------------------------------------------------------------------
    def exists(self, dataset: str, day: date) -> bool:
        return self.fs.exists(posixpath.join(self.partition_path(dataset, day), DATA_FILE))

    def read(
        self, dataset: str, day: date, columns: Iterable[str] | None = None, *, missing_ok: bool = False
    ) -> pa.Table | None:
        """Read one partition; a missing or corrupt one raises LakeError naming the file."""
        path = posixpath.join(self.partition_path(dataset, day), DATA_FILE)
        if not self.fs.exists(path):
            if missing_ok:
                return None
            raise LakeError(
                f"lake partition {self.url(dataset, day)} does not exist. Run the stage that "
                f"writes {dataset!r} for {day} first (python -m include.scoring run --start {day} "
                f"--end {day})."
            )
        try:
            with self.fs.open(path, "rb") as fh:
                return pq.read_table(fh, columns=list(columns) if columns is not None else None)
        except (pa.ArrowInvalid, pa.ArrowException, OSError, KeyError) as exc:
            raise LakeError(
                f"lake file {self.url(dataset, day, DATA_FILE)} is unreadable or corrupt ({exc}). "
                f"Re-run the stage that writes {dataset!r} for {day} to rebuild it."
            ) from None

    def read_df(
        self, dataset: str, day: date, columns: Iterable[str] | None = None, *, missing_ok: bool = False
    ) -> pd.DataFrame | None:
        table = self.read(dataset, day, columns, missing_ok=missing_ok)
        return None if table is None else table.to_pandas()

    def read_range(
        self,
        dataset: str,
        start: date,
        end: date,
        columns: Iterable[str] | None = None,
        *,
        missing_ok: bool = True,
        add_day: bool = False,
    ) -> pa.Table | None:
        """Concatenate the partitions of [start, end]; missing days are skipped when missing_ok."""
        tables = []
        for day in days_between(start, end):
            table = self.read(dataset, day, columns, missing_ok=missing_ok)
            if table is None:
                continue
            if add_day:
                table = table.append_column("dt", pa.array([day] * table.num_rows, pa.date32()))
            tables.append(table)
        if not tables:
            return None
        return pa.concat_tables(tables, promote_options="permissive")

    def read_side_file(self, dataset: str, day: date, name: str) -> bytes | None:
        path = posixpath.join(self.partition_path(dataset, day), name)
        if not self.fs.exists(path):
            return None
        with self.fs.open(path, "rb") as fh:
            return fh.read()

    def days(self, dataset: str) -> list[date]:
        """Days that have a complete partition of `dataset`, sorted."""
        base = self.dataset_path(dataset)
        if not self.fs.exists(base):
            return []
        out = []
        for entry in self.fs.ls(base, detail=False):
            name = posixpath.basename(entry.rstrip("/"))
            if name.startswith("dt=") and self.fs.exists(posixpath.join(entry, DATA_FILE)):
                try:
                    out.append(date.fromisoformat(name[3:]))
                except ValueError:
                    continue
        return sorted(out)

    def row_count(self, dataset: str, day: date) -> int:
        """Rows of a partition from its Parquet footer (no data read); 0 when missing."""
        path = posixpath.join(self.partition_path(dataset, day), DATA_FILE)
        if not self.fs.exists(path):
            return 0
        with self.fs.open(path, "rb") as fh:
            return pq.ParquetFile(fh).metadata.num_rows
