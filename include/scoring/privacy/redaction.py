"""Right to erasure in the lake: the person's rows removed, identifiers in other text [erased].

search.py finds what holds the person and counts it; this module turns those rows, text cells,
side files and graph edges into their redacted form and rewrites the partitions the scan found.
It reuses search.py's matching (`source_rows`, `text_hits`), so it changes exactly what the scan
counted, and it only imports from search.py, never the other way (no cycle).
"""

from __future__ import annotations

import posixpath
import re
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from include.scoring.core.arrowops import isin
from include.scoring.core.hashing import hash_ids
from include.scoring.lake import catalog
from include.scoring.lake.catalog import Dataset, Personal
from include.scoring.lake.store import DATA_FILE, Lake
from include.scoring.privacy.search import Person, Plan, side_files, source_rows, text_hits
from include.scoring.privacy.suppression import COLUMNS

REDACTED = "[erased]"


def redact_text(text: str, pattern: str) -> str:
    """Every identifier in `text` replaced by [erased] (twice: adjacent ones share a boundary)."""
    for _ in range(2):
        text = re.sub(pattern, rf"\g<1>{REDACTED}\g<3>", text)
    return text


def _redact_column(column: pa.ChunkedArray, hits: np.ndarray, pattern: str) -> pa.Array:
    column = column.combine_chunks()
    replaced = column
    for _ in range(2):  # adjacent identifiers share a boundary character
        replaced = pc.replace_substring_regex(replaced, pattern=pattern, replacement=rf"\1{REDACTED}\3")
    return pc.if_else(pa.array(hits), replaced, column)


def redact_table(
    table: pa.Table, pattern: str, skip: tuple[str, ...] = (), rows: np.ndarray | None = None
) -> tuple[pa.Table, int]:
    """Text cells (of `rows`, default all) holding an identifier, redacted; returns the cell count."""
    cells = 0
    for name, hits in text_hits(table, pattern, skip, rows):
        cells += int(hits.sum())
        table = table.set_column(
            table.schema.get_field_index(name), name, _redact_column(table.column(name), hits, pattern)
        )
    return table, cells


def edit_source(table: pa.Table, source: str, person: Person, pattern: str) -> tuple[pa.Table, int, int]:
    """The table without the person's rows and with identifiers in other text redacted;
    returns (table, rows removed, cells redacted)."""
    drop = source_rows(table, source, person, pattern)
    skip = tuple(c for c, _ in COLUMNS[source])
    table, cells = redact_table(table, pattern, skip, rows=~drop)
    return table.filter(pa.array(~drop)), int(drop.sum()), cells


def _rewrite(lake: Lake, dataset: Dataset, day: date, table: pa.Table, pattern: str) -> None:
    """Replace a single-file partition atomically, keeping (redacted) side files."""
    if not lake.fs.exists(posixpath.join(lake.current_folder(dataset, day), DATA_FILE)):
        raise ValueError(f"{lake.url(dataset, day)} is not a single-file partition")
    side = {
        name: redact_text(text, pattern).encode("utf-8", errors="surrogateescape")
        for name, text in side_files(lake, dataset, day)
    }
    lake.write_partition(dataset, day, table, side_files=side)


def _rebuild_event_ids(lake: Lake) -> None:
    """event_ids/<source>/dt=D holds the hashes of valid/<source>/dt=D's ids (one per row): rebuild
    it where the counts differ (rows removed now, or by a forget that was interrupted)."""
    for hashes in catalog.with_personal(Personal.HASHES):
        valid = catalog.valid(hashes.source)
        for day in lake.days(hashes):
            if lake.row_count(hashes, day) == lake.row_count(valid, day) or not lake.exists(valid, day):
                continue
            ids = lake.read(valid, day, columns=["event_id"]).column("event_id").to_pandas()
            lake.write_partition(hashes, day, pd.DataFrame({"h": hash_ids(ids)}))


def apply(lake: Lake, plan: Plan) -> None:
    """Rewrite every partition the scan found: sources, event ids, validation, then the person
    graph (oldest first, so the latest graph, which finds the person, goes last)."""
    person, pattern = plan.person, plan.pattern
    for dataset, day in sorted(plan.rewrite, key=lambda k: (k[0].personal is Personal.GRAPH, k[1], k[0].name)):
        table = lake.read(dataset, day)
        if dataset.personal is Personal.GRAPH:
            nodes = person.nodes()
            edges = table.to_pandas()
            table = table.filter(pa.array(~(isin(edges["a"], nodes) | isin(edges["b"], nodes))))
        elif dataset.personal is Personal.TEXT:
            table, _ = redact_table(table, pattern)
        else:
            table, _, _ = edit_source(table, dataset.source, person, pattern)
        _rewrite(lake, dataset, day, table, pattern)
    _rebuild_event_ids(lake)
