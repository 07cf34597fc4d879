"""Extract for day D: landing files and the CRM snapshot into raw/<source>/dt=D (SPEC section 2).

Web, email and ad come from <landing>/<source>/<D>/ (any mix of CSV, JSONL and Parquet); the four
CRM tables from the CRM (a database, Salesforce or HubSpot: extract/snapshot.py) as that day's
snapshot; reference data from <landing>/reference/.
Every row keeps `source_file` and `source_line`; values that do not fit the contract are nulled
and described in `coercion_errors` (validation quarantines those rows). Nothing wall-clock is
written, so extracting the same inputs again writes byte-identical Parquet.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from include.scoring.core.contracts import CONTRACTS, EVENT_SOURCES, IP_KINDS, IP_RANGES_SCHEMA, raw_schema
from include.scoring.core.errors import ExtractError
from include.scoring.core.results import StageResult
from include.scoring.core.source_config import Segment
from include.scoring.core.sources import EXTRACT_SOURCES, SHIPPED_FREE_MAIL
from include.scoring.extract.coerce import coerce_to_contract
from include.scoring.extract.readers import SUPPORTED, read_landing_file
from include.scoring.extract.segment import CALL_SCHEMA, is_segment_file, read_segment
from include.scoring.extract.snapshot import extract_crm
from include.scoring.lake import catalog
from include.scoring.lake.store import Lake
from include.scoring.privacy.suppression import drop_suppressed

if TYPE_CHECKING:
    from include.scoring.context import RunContext

log = logging.getLogger(__name__)
__all__ = ["extract_crm", "extract_events", "extract_reference", "extract_stage"]


def _describe(result: StageResult) -> str:
    c = result.counts
    note = f", {c['rows_with_errors']:,} with unreadable values" if c["rows_with_errors"] else ""
    note += f", {c['erased']:,} erased (privacy suppression list)" if c["erased"] else ""
    note += f", {c['identity_calls']:,} identify/group calls" if c.get("identity_calls") else ""
    note += f", {c['skipped']:,} messages not scored (see warnings)" if c.get("skipped") else ""
    return (
        f"extract {result.unit:<18} {result.day}  {c['rows']:>9,} rows from {c['files']} file(s){note} -> {result.path}"
    )


def extract_result(
    source: str, day: date, path: str, rows: int, files: int, rows_with_errors: int, erased: int = 0
) -> StageResult:
    """What extracting one source of a day did. `erased`: rows dropped because they carry an
    identifier erased by `forget` (landing rows = rows + erased)."""
    counts = {"rows": rows, "files": files, "rows_with_errors": rows_with_errors, "erased": erased}
    return StageResult("extract", source, day, [path], counts, describe=_describe)


def _finish(contract_source: str, parts: list[pa.Table], lineage: list[tuple[str, np.ndarray, np.ndarray]]) -> pa.Table:
    schema = raw_schema(contract_source)
    if not parts:
        return schema.empty_table()
    table = pa.concat_tables(parts)
    files = np.concatenate([np.full(len(lines), name, dtype=object) for name, lines, _ in lineage])
    lines = np.concatenate([lines for _, lines, _ in lineage])
    errors = np.concatenate([errs for _, _, errs in lineage])
    table = table.append_column("source_file", pa.array(files, pa.string()))
    table = table.append_column("source_line", pa.array(lines, pa.int64()))
    table = table.append_column("coercion_errors", pa.array(errors, pa.string()))
    return table.cast(schema)


def landing_files(landing: Path, source: str, day: date) -> list[Path]:
    """The files that arrived for `source` on `day`, in name order (hidden and `_` entries skipped).

    Every entry is read or reported: a directory named like a file type (Spark's
    `export.parquet/part-*.parquet`) is read as its part files, any other directory, an unsupported
    file or a link that leads outside the landing folder is an ExtractError (the link's target is
    never read)."""
    require_landing_root(landing)
    folder = Path(landing) / source / day.isoformat()
    if not folder.is_dir():
        return []
    root = Path(landing).resolve()
    files = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith((".", "_")):
            continue
        _refuse_outside_links(path, root, source, day)
        if path.is_dir() and path.suffix.lower() in SUPPORTED:
            parts = [p for p in sorted(path.iterdir()) if not p.name.startswith((".", "_"))]
            for part in parts:
                _refuse_outside_links(part, root, source, day)
                _check_supported(part, source, day, expected=path.suffix.lower())
            files.extend(parts)
            continue
        _check_supported(path, source, day)
        files.append(path)
    return files


def require_landing_root(landing: Path) -> None:
    """A landing folder that does not exist (a typo, an unmounted volume) is an error, never an empty day."""
    if not Path(landing).is_dir():
        raise ExtractError(
            f"the landing folder {landing} does not exist or is not a folder. Check ENGAGEMENT_LANDING (or "
            "--landing): a wrong path must not replace good raw partitions with empty ones. Nothing was written."
        )


def _refuse_outside_links(path: Path, root: Path, source: str, day: date) -> None:
    if path.is_symlink() and not path.resolve().is_relative_to(root):
        raise ExtractError(
            f"{source} landing entry {path} (day {day}) is a link to outside the landing folder {root}; "
            "it was not read. Copy the file into the landing folder instead, then clear the extract task."
        )


def _check_supported(path: Path, source: str, day: date, expected: str | None = None) -> None:
    if path.is_file() and path.suffix.lower() in SUPPORTED and (expected is None or path.suffix.lower() == expected):
        return
    what = "a folder" if path.is_dir() else f"an unsupported type {path.suffix!r}" if path.is_file() else "not a file"
    raise ExtractError(
        f"{source} landing entry {path} (day {day}) is {what}; expected files of type "
        f"{expected or ', '.join(sorted(SUPPORTED))}. Move it out of the landing folder "
        "or convert it, then clear the extract task."
    )


def _keep_nonempty(lake: Lake, source: str, day: date, folder: Path) -> None:
    """No landing files for a day whose raw partition holds rows: refuse to overwrite it with nothing."""
    if lake.exists(catalog.raw(source), day) and lake.row_count(catalog.raw(source), day) > 0:
        raise ExtractError(
            f"{source} on {day}: no landing files in {folder}, but {lake.url(catalog.raw(source), day)} holds "
            f"{lake.row_count(catalog.raw(source), day):,} rows; not replacing them with an empty partition. "
            "Check the landing path; to really empty the day, delete that partition first."
        )


def extract_events(landing: Path, lake: Lake, source: str, day: date, segment: Segment | None = None) -> StageResult:
    """Landing files of one event source and day into raw/<source>/dt=D; for web, the identify
    and group calls of Segment/RudderStack files into calls/web/dt=D (extract/segment.py)."""
    if source not in EVENT_SOURCES:
        raise ValueError(f"not an event source: {source}")
    contract = CONTRACTS[source]
    files = landing_files(landing, source, day)
    parts, lineage, calls, skipped = [], [], [], {}
    required = [c.name for c in contract.columns if not c.nullable]
    text_columns = [c.name for c in contract.columns if pa.types.is_string(c.type) or pa.types.is_timestamp(c.type)]
    for path in files:
        display = f"{source} landing file {path} (day {day})"
        if source == "web" and is_segment_file(path):
            found = read_segment(path.read_bytes(), segment or Segment(), contract.names)
            rows = found.web
            calls.append(found.calls.assign(source_file=f"{source}/{day.isoformat()}/{path.name}"))
            skipped.update({k: skipped.get(k, 0) + v for k, v in found.skipped.items()})
        else:
            rows = read_landing_file(path, display, contract.names, required, text_columns)
        errors = rows.parse_errors.copy()
        typed = coerce_to_contract(rows.table, contract, errors)
        parts.append(typed)
        lineage.append((f"{source}/{day.isoformat()}/{_entry_name(path, landing, source, day)}", rows.lines, errors))
        log.info("read %s: %s rows", path.name, typed.num_rows)
        del rows, typed  # the file's text columns: freed before the next file is read and the day is written
    if not files:
        _keep_nonempty(lake, source, day, Path(landing) / source / day.isoformat())
    table, erased = drop_suppressed(lake, source, _finish(source, parts, lineage))
    if not files:
        log.warning(
            "no landing files for %s on %s (looked in %s); writing an empty partition",
            source,
            day,
            Path(landing) / source / day.isoformat(),
        )
    path = lake.write_partition(catalog.raw(source), day, table, schema=raw_schema(source))
    bad = table.num_rows - table.column("coercion_errors").null_count
    result = extract_result(source, day, path, table.num_rows, len(files), bad, erased)
    if source == "web":
        result.counts["identity_calls"], result.counts["erased"] = write_calls(lake, day, calls, erased)
        result.counts["skipped"] = sum(skipped.values())
        result.breakdowns["skipped"] = skipped
        result.warnings += [f"{n:,} {what}: not a web event, skipped" for what, n in sorted(skipped.items())]
    return result


def _entry_name(path: Path, landing: Path, source: str, day: date) -> str:
    """A file's name under its day folder (`export.parquet/part-0.parquet` for a part file)."""
    return path.relative_to(Path(landing) / source / day.isoformat()).as_posix()


def write_calls(lake: Lake, day: date, parts: list[pd.DataFrame], erased: int) -> tuple[int, int]:
    """The day's identify and group calls into calls/web/dt=D (empty when none); how many were
    written, and the erased count with the calls that carried a suppressed identifier added."""
    frames = [p for p in parts if len(p)]
    columns = CALL_SCHEMA.names
    frame = (
        pd.concat(frames, ignore_index=True).rename(columns={"line": "source_line"})
        if frames
        else pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    )
    table = pa.Table.from_pandas(frame.reindex(columns=columns), schema=CALL_SCHEMA, preserve_index=False)
    table, dropped = drop_suppressed(lake, catalog.CALLS.source, table)
    lake.write_partition(catalog.CALLS, day, table, schema=CALL_SCHEMA)
    return table.num_rows, erased + dropped


def extract_reference(landing: Path, lake: Lake, day: date) -> list[StageResult]:
    """ip_ranges.csv and the free-mail list into reference/<name>/dt=D (the shipped list if absent)."""
    ref = Path(landing) / "reference"
    require_landing_root(landing)
    if not ref.is_dir():
        raise ExtractError(
            f"the reference folder {ref} does not exist: reverse-IP resolution would silently be off. "
            "Restore it (ip_ranges.csv, optionally free_email_domains.txt), or create it empty to run "
            "without IP ranges on purpose, then clear the extract_reference task."
        )
    results = []
    ip_path = ref / "ip_ranges.csv"
    if ip_path.exists():
        try:
            table = pacsv.read_csv(
                ip_path,
                convert_options=pacsv.ConvertOptions(
                    column_types={f.name: pa.string() for f in IP_RANGES_SCHEMA}, strings_can_be_null=True
                ),
            )
        except pa.ArrowInvalid as exc:
            raise ExtractError(
                f"reference file {ip_path} is not a readable CSV ({exc}). Fix it, then clear the task."
            ) from None
        missing = [f.name for f in IP_RANGES_SCHEMA if f.name not in table.column_names]
        if missing:
            raise ExtractError(
                f"reference file {ip_path} lacks column(s) {', '.join(missing)}; "
                f"expected {', '.join(IP_RANGES_SCHEMA.names)}."
            )
        table = table.select(IP_RANGES_SCHEMA.names).cast(IP_RANGES_SCHEMA)
        kinds = set(table.column("kind").to_pylist())
        unknown = sorted(str(k) for k in kinds - set(IP_KINDS))
        if unknown:
            raise ExtractError(
                f"reference file {ip_path} has unknown kind value(s) {unknown}; allowed: {', '.join(IP_KINDS)}."
            )
        files = 1
    else:
        log.warning("no %s: reverse-IP resolution is off for %s", ip_path, day)
        table, files = IP_RANGES_SCHEMA.empty_table(), 0
    path = lake.write_partition(catalog.IP_RANGES, day, table, schema=IP_RANGES_SCHEMA)
    results.append(extract_result("reference/ip_ranges", day, path, table.num_rows, files, 0))
    free_path = ref / "free_email_domains.txt"
    source_path = free_path if free_path.exists() else SHIPPED_FREE_MAIL
    domains = sorted(
        {
            line.strip().lower()
            for line in source_path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")
        }
    )
    free = pa.table({"domain": pa.array(domains, pa.string())})
    path = lake.write_partition(catalog.FREE_EMAIL_DOMAINS, day, free)
    results.append(extract_result("reference/free_email_domains", day, path, free.num_rows, 1, 0))
    return results


def extract_stage(
    ctx: RunContext, day: date, sources: Iterable[str] = EXTRACT_SOURCES, crm_full_refresh: bool = False
) -> list[StageResult]:
    """The extract stage for day D: each of `sources` (event sources, `crm`, `reference`);
    `crm_full_refresh` reads an API CRM whole instead of what changed since the last snapshot."""
    results = []
    for source in sources:
        if source in EVENT_SOURCES:
            results.append(extract_events(ctx.landing, ctx.lake, source, day, ctx.config.segment))
        elif source == "crm":
            results.extend(extract_crm(ctx.settings.crm_url, ctx.lake, day, ctx.config, crm_full_refresh))
        elif source == "reference":
            results.extend(extract_reference(ctx.landing, ctx.lake, day))
        else:
            raise ValueError(f"unknown extract source {source!r}; expected one of {EXTRACT_SOURCES}")
    return results
