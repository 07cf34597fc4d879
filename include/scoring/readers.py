"""Landing-file readers: CSV, JSON lines and Parquet into all-text Arrow tables with line numbers.

Each reader returns every record of the file, never fewer: a record that cannot be parsed (a
truncated JSON object, a CSV row with the wrong number of fields, bytes that are not UTF-8) comes
back as a row of nulls whose `parse_error` says what was wrong and shows the text, so validation
quarantines it instead of the pipeline dropping it. A file that cannot be read at all (corrupt
Parquet, no header, missing contract columns) raises ExtractError naming the file.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from include.scoring.errors import ExtractError

SUPPORTED = {".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}
MAX_SHOWN = 160  # characters of a broken line kept in its error message
MAX_FIELD = 100_000  # characters kept of any one field; longer values are cut and flagged


@dataclass
class FileRows:
    """The records of one file: contract columns (typed as found), line numbers, parse errors."""

    table: pa.Table
    lines: np.ndarray
    parse_errors: np.ndarray  # object array: None or a message per row


def _show(text: str) -> str:
    text = text.replace("\r", "\\r").replace("\n", "\\n")
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + "..."


def read_landing_file(path: Path, display: str, columns: list[str], required: list[str]) -> FileRows:
    """Read `path` (shown to users as `display`) keeping the contract `columns`.

    CSV headers and Parquet schemas must hold every contract column; JSON objects customarily
    leave out null fields, so there only the `required` (non-nullable) columns must appear.
    """
    kind = SUPPORTED.get(path.suffix.lower())
    if kind is None:
        raise ExtractError(f"{display}: unsupported file type {path.suffix!r}; expected one of {sorted(SUPPORTED)}")
    if kind == "parquet":
        return _read_parquet(path, display, columns)
    raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    if kind == "csv":
        return _read_csv(raw, display, columns)
    return _read_jsonl(raw, display, columns, required)


def _missing(display: str, found: list[str], columns: list[str], where: str) -> None:
    missing = [c for c in columns if c not in found]
    if missing:
        raise ExtractError(
            f"{display}: {where} lacks contract column(s) {', '.join(missing)}. Found: "
            f"{', '.join(found[:30]) or '(nothing)'}. Expected: {', '.join(columns)}. "
            "Fix the export upstream (or rename the columns), then clear the extract task."
        )


def _read_parquet(path: Path, display: str, columns: list[str]) -> FileRows:
    try:
        pf = pq.ParquetFile(path)
        names = pf.schema_arrow.names
        _missing(display, names, columns, "the Parquet schema")
        table = pf.read(columns=columns)
    except ExtractError:
        raise
    except (pa.ArrowException, OSError) as exc:
        raise ExtractError(f"{display}: not a readable Parquet file ({exc}). Re-export it or remove it from the landing folder.") from None
    n = table.num_rows
    return FileRows(table, np.arange(1, n + 1), np.full(n, None, dtype=object))


def _read_csv(raw: bytes, display: str, columns: list[str]) -> FileRows:
    header_end = raw.find(b"\n")
    header_text = (raw if header_end < 0 else raw[:header_end]).decode("utf-8", errors="replace").strip("\r")
    header = next(csv.reader([header_text]), [])
    if not raw.strip():
        return _empty(columns)
    _missing(display, [h.strip() for h in header], columns, "the header line")
    invalid: list[tuple[int, str]] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        invalid.append((row.number or 0, f"expected {row.expected_columns} fields, found {row.actual_columns}: {_show(row.text)}"))
        return "skip"

    try:
        table = pacsv.read_csv(
            io.BytesIO(raw),
            read_options=pacsv.ReadOptions(use_threads=False, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(newlines_in_values=False, invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                include_columns=columns,
                column_types={c: pa.string() for c in columns},
                strings_can_be_null=True,
                null_values=[""],
                quoted_strings_can_be_null=True,
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return _read_csv_slow(raw, display, columns)
    n_valid = table.num_rows
    bad_lines = np.array([num for num, _ in invalid], dtype=np.int64)
    all_lines = np.arange(2, 2 + n_valid + len(invalid))
    good_lines = np.setdiff1d(all_lines, bad_lines, assume_unique=True)[:n_valid] if len(invalid) else all_lines[:n_valid]
    rows = FileRows(table, good_lines, np.full(n_valid, None, dtype=object))
    if invalid:
        rows = _concat(rows, _error_rows(columns, bad_lines, [f"line {n}: {msg}" for n, msg in invalid]))
    return _cap_fields(rows)


def _read_csv_slow(raw: bytes, display: str, columns: list[str]) -> FileRows:
    """Line-by-line fallback for files the fast reader rejects (bad UTF-8, stray quotes)."""
    lines = raw.split(b"\n")
    header = next(csv.reader([lines[0].decode("utf-8", errors="replace").strip("\r")]))
    index = {name.strip(): i for i, name in enumerate(header)}
    values: dict[str, list] = {c: [] for c in columns}
    numbers, errors = [], []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            text = line.decode("utf-8").rstrip("\r")
            fields = next(csv.reader([text]))
            if len(fields) != len(header):
                raise ValueError(f"expected {len(header)} fields, found {len(fields)}")
            error = None
        except (UnicodeDecodeError, ValueError, csv.Error, StopIteration) as exc:
            fields, error = None, f"line {number}: {_describe(exc)}: {_show(line.decode('utf-8', errors='replace'))}"
        for c in columns:
            values[c].append(None if fields is None or fields[index[c]] == "" else fields[index[c]])
        numbers.append(number)
        errors.append(error)
    table = pa.table({c: pa.array(values[c], pa.string()) for c in columns})
    return _cap_fields(FileRows(table, np.array(numbers, dtype=np.int64), np.array(errors, dtype=object)))


def _read_jsonl(raw: bytes, display: str, columns: list[str], required: list[str]) -> FileRows:
    if not raw.strip():
        return _empty(columns)
    lines = raw.split(b"\n")
    if not lines[-1].strip():
        lines.pop()
    if all(line.strip() for line in lines):  # fast path: no blank lines, so record i is line i
        try:
            table = pajson.read_json(
                io.BytesIO(raw),
                read_options=pajson.ReadOptions(use_threads=False, block_size=1 << 24),
                parse_options=pajson.ParseOptions(newlines_in_values=False, unexpected_field_behavior="infer"),
            )
            if table.num_rows == len(lines):
                _missing(display, table.column_names, required, "every JSON object")
                table = _with_columns(table, columns)
                n = table.num_rows
                return _cap_fields(FileRows(table, np.arange(1, n + 1), np.full(n, None, dtype=object)))
        except (pa.ArrowInvalid, UnicodeDecodeError):
            pass
    return _read_jsonl_slow(lines, display, columns, required)


def _with_columns(table: pa.Table, columns: list[str]) -> pa.Table:
    """Select `columns`, adding absent (nullable) ones as all-null text."""
    return pa.table({c: table.column(c) if c in table.column_names else pa.nulls(table.num_rows, pa.string()) for c in columns})


def _read_jsonl_slow(lines: list[bytes], display: str, columns: list[str], required: list[str]) -> FileRows:
    """Line-by-line fallback: every line becomes a row, unparseable ones with their error."""
    values: dict[str, list] = {c: [] for c in columns}
    numbers, errors = [], []
    seen_keys: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        record, error = None, None
        try:
            record = json.loads(line.decode("utf-8"))
            if not isinstance(record, dict):
                raise ValueError(f"a JSON {type(record).__name__}, not an object")
            seen_keys.update(record)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            record = None
            error = f"line {number}: {_describe(exc)}: {_show(line.decode('utf-8', errors='replace'))}"
        for c in columns:
            value = None if record is None else record.get(c)
            values[c].append(_as_text(value))
        numbers.append(number)
        errors.append(error)
    if seen_keys:  # at least one object parsed: the required columns must be there
        _missing(display, sorted(seen_keys), required, "every JSON object")
    table = pa.table({c: pa.array(values[c], pa.string()) for c in columns})
    return _cap_fields(FileRows(table, np.array(numbers, dtype=np.int64), np.array(errors, dtype=object)))


def _as_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return f"not valid UTF-8 (byte 0x{exc.object[exc.start]:02x} at position {exc.start}); re-export the file as UTF-8"
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON ({exc.msg} at column {exc.colno})"
    return str(exc)


def _empty(columns: list[str]) -> FileRows:
    table = pa.table({c: pa.array([], pa.string()) for c in columns})
    return FileRows(table, np.zeros(0, np.int64), np.zeros(0, dtype=object))


def _error_rows(columns: list[str], numbers: np.ndarray, messages: list[str]) -> FileRows:
    n = len(numbers)
    table = pa.table({c: pa.nulls(n, pa.string()) for c in columns})
    return FileRows(table, numbers, np.array(messages, dtype=object))


def _concat(a: FileRows, b: FileRows) -> FileRows:
    table = pa.concat_tables([a.table, b.table.cast(a.table.schema)], promote_options="permissive")
    lines = np.concatenate([a.lines, b.lines])
    errors = np.concatenate([a.parse_errors, b.parse_errors])
    order = np.argsort(lines, kind="stable")
    return FileRows(table.take(order), lines[order], errors[order])


def _cap_fields(rows: FileRows) -> FileRows:
    """Cut absurdly long text fields (and say so) so one hostile value cannot blow up memory."""
    import pyarrow.compute as pc

    errors = rows.parse_errors
    table = rows.table
    for i, name in enumerate(table.column_names):
        col = table.column(i)
        if not pa.types.is_string(col.type) or col.null_count == len(col):
            continue
        lengths = pc.utf8_length(col)
        too_long = pc.fill_null(pc.greater(lengths, MAX_FIELD), False)
        if pc.any(too_long).as_py():
            idx = np.flatnonzero(too_long.to_numpy(zero_copy_only=False))
            errors = errors.copy()
            for j in idx:
                msg = f"{name}: value of {lengths[j].as_py():,} characters exceeds the {MAX_FIELD:,} limit"
                errors[j] = msg if errors[j] is None else f"{errors[j]}; {msg}"
            table = table.set_column(i, name, pc.utf8_slice_codeunits(col, 0, MAX_FIELD))
    return FileRows(table, rows.lines, errors)
