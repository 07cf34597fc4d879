"""What the DuckDB references (resolve: `duckdb_resolve_ref`; scoring: `duckdb_score_ref`) share:
SQL text literals and the part files of a lake partition."""

from __future__ import annotations

from datetime import date
from pathlib import Path


def quote(text: str) -> str:
    """A SQL string literal."""
    return "'" + str(text).replace("'", "''") + "'"


def in_list(values) -> str:
    """A parenthesised SQL list of text values, `(NULL)` when there are none (nothing is IN it)."""
    values = sorted({str(v) for v in values})
    return "(" + ", ".join(map(quote, values)) + ")" if values else "(NULL)"


def part_files(folder: str | Path) -> list[str]:
    """The part files of a local lake partition folder, in shard order (none: an empty list)."""
    return sorted(str(p) for p in Path(folder).glob("part-*.parquet"))


def partition_files(root: str, dataset: str, day: date) -> list[str]:
    """The part files of `dataset`'s partition of `day` under the lake folder `root`."""
    return part_files(Path(root) / dataset / f"dt={day.isoformat()}")
