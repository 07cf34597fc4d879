"""Landing-file readers: CSV, JSON lines and Parquet into all-text Arrow tables with line numbers.

Each reader returns every record of the file, never fewer: a record that cannot be parsed (a
truncated JSON object, a CSV row with the wrong number of fields, bytes that are not UTF-8) comes
back as a row of nulls whose `parse_error` says what was wrong and shows the text, so validation
quarantines it instead of the pipeline dropping it. A file that cannot be read at all (corrupt
Parquet, no header, missing contract columns) raises ExtractError naming the file.

Text files may be UTF-8 (with or without a byte-order mark) or UTF-16/32 with a byte-order mark
(Excel's "Unicode text"); they are re-encoded to UTF-8 first. CSV values may hold quoted line
breaks: such a record keeps the number of its first line. Values are never interpreted (a cell
starting with `=` stays text); what cannot be represented (bytes that are not UTF-8, an escaped
lone surrogate in JSON, a nested object where a value belongs) is flagged on its row.
"""

from __future__ import annotations

import codecs
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

from include.scoring.core.errors import ExtractError

SUPPORTED = {".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}
MAX_SHOWN = 160  # characters of a broken line kept in its error message
MAX_FIELD = 100_000  # characters kept of any one field; longer values are cut and flagged
MAX_RECORD_LINES = 200  # physical lines one quoted CSV value may span before the record counts as broken
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_UNDECODABLE = "\udcfe"  # stands for bytes the file's own encoding cannot decode; never valid UTF-8


def _mark_undecodable(exc: UnicodeDecodeError) -> tuple[str, int]:
    return _UNDECODABLE, exc.end


codecs.register_error("engagement.undecodable", _mark_undecodable)


@dataclass
class FileRows:
    """The records of one file: contract columns (typed as found), line numbers, parse errors."""

    table: pa.Table
    lines: np.ndarray
    parse_errors: np.ndarray  # object array: None or a message per row


def _show(text: str) -> str:
    text = text.replace("\r", "\\r").replace("\n", "\\n")
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + "..."


def read_landing_file(
    path: Path, display: str, columns: list[str], required: list[str], text_columns: list[str] | None = None
) -> FileRows:
    """Read `path` (shown to users as `display`) keeping the contract `columns`.

    CSV headers and Parquet schemas must hold every contract column; JSON objects customarily
    leave out null fields, so there only the `required` (non-nullable) columns must appear.
    `text_columns` are the columns read as text (default: all); the others are typed as found.
    """
    kind = SUPPORTED.get(path.suffix.lower())
    if kind is None:
        raise ExtractError(f"{display}: unsupported file type {path.suffix!r}; expected one of {sorted(SUPPORTED)}")
    if kind == "parquet":
        return _read_parquet(path, display, columns)
    raw = _as_utf8(path.read_bytes())
    if kind == "csv":
        return _read_csv(raw, display, columns)
    return _read_jsonl(raw, display, columns, required, text_columns or columns)


def _as_utf8(raw: bytes) -> bytes:
    """The file's bytes as UTF-8 without a byte-order mark.

    UTF-16/32 files (a byte-order mark, or UTF-16 without one, recognised by the NUL bytes between
    the ASCII characters of the first line) are decoded and re-encoded; what they hold that is not
    valid text stays invalid in the result, so the rows holding it are flagged as not UTF-8.
    Anything else is left as it is: rows that are not UTF-8 (latin-1, cp1252) are flagged per row.
    """
    codec = next((name for bom, name in _BOMS if raw.startswith(bom)), None)
    if codec:
        raw = raw[len(next(bom for bom, name in _BOMS if name == codec)) :]
    else:
        head = raw[:200]
        head = head[: len(head) - len(head) % 2]
        if len(head) >= 8:
            even, odd = head[0::2], head[1::2]
            if odd.count(0) == len(odd) and 0 not in even:
                codec = "utf-16-le"
            elif even.count(0) == len(even) and 0 not in odd:
                codec = "utf-16-be"
    if codec:
        text = raw.decode(codec, errors="engagement.undecodable")
        raw = text.encode("utf-8", errors="surrogatepass")
    while raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    return raw


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
        raise ExtractError(
            f"{display}: not a readable Parquet file ({exc}). Re-export it or remove it from the landing folder."
        ) from None
    n = table.num_rows
    errors = np.full(n, None, dtype=object)
    table = pa.table({c: _plain_column(table.column(c), c, errors) for c in columns})
    return _cap_fields(FileRows(table, np.arange(1, n + 1), errors))


def _plain_column(col: pa.ChunkedArray, name: str, errors: np.ndarray) -> pa.ChunkedArray:
    """A Parquet column as a type coercion understands: text, numbers, booleans and timestamps
    stay; dictionaries are decoded; bytes become text (rows whose bytes are not UTF-8 are
    flagged); nested values and anything else become their text, flagged when nested."""
    typ = col.type
    if pa.types.is_dictionary(typ):
        return _plain_column(
            pa.chunked_array([chunk.dictionary_decode() for chunk in col.chunks], typ.value_type), name, errors
        )
    if (
        pa.types.is_string(typ)
        or pa.types.is_large_string(typ)
        or pa.types.is_integer(typ)
        or pa.types.is_floating(typ)
        or pa.types.is_boolean(typ)
        or pa.types.is_null(typ)
        or pa.types.is_timestamp(typ)
    ):
        return col
    values = col.to_pylist()
    out: list[str | None] = []
    for row, value in enumerate(values):
        text, problem = None, None
        if value is None:
            pass
        elif isinstance(value, (bytes, bytearray, memoryview)):
            try:
                text = bytes(value).decode("utf-8")
            except UnicodeDecodeError as exc:
                problem = f"{name}: {_describe(exc)}"
        elif isinstance(value, (dict, list, tuple)):
            text = json.dumps(value, ensure_ascii=False, default=str)
            problem = f"{name}: a nested value where a single value belongs: {_show(text)}"
        else:
            text = value.isoformat() if hasattr(value, "isoformat") else str(value)
        if problem:
            errors[row] = problem if errors[row] is None else f"{errors[row]}; {problem}"
        out.append(text)
    return pa.chunked_array([pa.array(out, pa.string())])


def _csv_header(raw: bytes, display: str, columns: list[str]) -> list[str]:
    header_end = raw.find(b"\n")
    header_text = (raw if header_end < 0 else raw[:header_end]).decode("utf-8", errors="replace").removesuffix("\r")
    try:
        return next(csv.reader([header_text]), [])
    except csv.Error as exc:
        raise ExtractError(
            f"{display}: the header line cannot be read as CSV ({exc}): {_show(header_text)}. Expected a first line naming the columns "
            f"{', '.join(columns)}. Re-export the file as UTF-8 CSV with a header line, then clear the extract task."
        ) from None


def _is_utf8(raw: bytes) -> bool:
    """Whether the bytes are valid UTF-8, checked by Arrow without copying them."""
    data = pa.Array.from_buffers(
        pa.large_binary(), 1, [None, pa.py_buffer(np.array([0, len(raw)], dtype=np.int64)), pa.py_buffer(raw)]
    )
    try:
        data.cast(pa.large_string())
    except pa.ArrowInvalid:
        return False
    return True


def _physical_lines(raw: bytes) -> int:
    return raw.count(b"\n") + (0 if raw.endswith(b"\n") else 1)


def _read_csv(raw: bytes, display: str, columns: list[str]) -> FileRows:
    if not raw.strip():
        return _empty(columns)
    header = _csv_header(raw, display, columns)
    _missing(display, [h.strip() for h in header], columns, "the header line")
    invalid: list[tuple[int, str]] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        invalid.append(
            (row.number or 0, f"expected {row.expected_columns} fields, found {row.actual_columns}: {_show(row.text)}")
        )
        return "skip"

    if not _is_utf8(raw):  # bytes that are not UTF-8: the fast reader cannot even show the broken rows
        return _read_csv_slow(raw, columns, header)
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
    except (pa.ArrowException, UnicodeDecodeError):
        return _read_csv_slow(raw, columns, header)
    n_valid = table.num_rows
    if n_valid + len(invalid) + 1 != _physical_lines(raw) or any('"' in text for _, text in invalid):
        # blank lines, bare carriage returns or a quoted value holding a line break: read record by
        # record, so every record is one row numbered by its first line
        return _read_csv_slow(raw, columns, header)
    bad_lines = np.array([num for num, _ in invalid], dtype=np.int64)
    all_lines = np.arange(2, 2 + n_valid + len(invalid))
    good_lines = (
        np.setdiff1d(all_lines, bad_lines, assume_unique=True)[:n_valid] if len(invalid) else all_lines[:n_valid]
    )
    rows = FileRows(table, good_lines, np.full(n_valid, None, dtype=object))
    if invalid:
        rows = _concat(rows, _error_rows(columns, bad_lines, [f"line {n}: {msg}" for n, msg in invalid]))
    return _cap_fields(rows)


def _csv_fields(text: str) -> tuple[list[str] | None, str | None]:
    """Fields of one CSV record; (None, "open") when a quoted value is not closed by its end."""
    try:
        return next(csv.reader([text], strict=True), []), None
    except csv.Error as exc:
        if "unexpected end of data" in str(exc):
            return None, "open"
    try:  # other irregularities (a quote inside a value): read leniently, as spreadsheets do
        return next(csv.reader([text]), []), None
    except csv.Error as exc:
        return None, str(exc)


def _well_formed(text: str) -> bool:
    """The text reads as CSV records without leniency."""
    try:
        list(csv.reader([text], strict=True))
    except csv.Error:
        return False
    return True


def _decode_line(chunk: bytes) -> tuple[str, UnicodeDecodeError | None]:
    """A line as text, and the decoding error when it is not UTF-8 (the text then has
    replacement characters, enough to find where its record ends)."""
    try:
        return chunk.decode("utf-8").removesuffix("\r"), None
    except UnicodeDecodeError as exc:
        return chunk.decode("utf-8", errors="replace").removesuffix("\r"), exc


def _csv_record(lines: list[bytes], i: int, width: int) -> tuple[list[str] | None, str | None, int]:
    """The record starting at line index i: (fields, error, physical lines used). A record with
    bytes that are not UTF-8 is one error row however many lines its quoted values span."""
    number = i + 1
    text, bad = _decode_line(lines[i])
    fields, problem = _csv_fields(text)
    used = 1
    if problem == "open":  # a quoted value with a line break: join the following lines until it closes
        for j in range(i + 1, min(len(lines), i + MAX_RECORD_LINES)):
            joined, bad_joined = _decode_line(b"\n".join(lines[i : j + 1]))
            more, again = _csv_fields(joined)
            if again == "open":
                continue
            # the quote closes: one record over these lines, if it has the header's width or reads
            # as well-formed CSV (then a wrong width is its own error, not the next line's); a
            # stray quote that only a lenient read closes takes no other line with it
            if more is not None and (len(more) == width or _well_formed(joined)):
                fields, problem, used, text, bad = more, None, j - i + 1, joined, bad_joined
            break
        if problem == "open" or fields is None and problem is None:
            return (
                None,
                f"line {number}: a quoted value is not closed on this line or the next {MAX_RECORD_LINES - 1}: {_show(text)}",
                1,
            )
    if bad is not None:
        return None, f"line {number}: {_describe(bad)}: {_show(text)}", used
    if fields is None:
        return None, f"line {number}: {problem}: {_show(text)}", 1
    if len(fields) != width:
        return None, f"line {number}: expected {width} fields, found {len(fields)}: {_show(text)}", used
    return fields, None, used


def _read_csv_slow(raw: bytes, columns: list[str], header: list[str]) -> FileRows:
    """Record-by-record fallback for files the fast reader cannot take whole (bad UTF-8, stray
    quotes, quoted line breaks, blank lines): every record becomes one row, broken ones with why."""
    lines = raw.split(b"\n")
    index = {name.strip(): i for i, name in enumerate(header)}
    values: dict[str, list] = {c: [] for c in columns}
    numbers, errors = [], []
    i = 1
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        fields, error, used = _csv_record(lines, i, len(header))
        for c in columns:
            values[c].append(None if fields is None or fields[index[c]] == "" else fields[index[c]])
        numbers.append(i + 1)
        errors.append(error)
        i += used
    table = pa.table({c: pa.array(values[c], pa.string()) for c in columns})
    return _cap_fields(FileRows(table, np.array(numbers, dtype=np.int64), np.array(errors, dtype=object)))


def _read_jsonl(raw: bytes, display: str, columns: list[str], required: list[str], text_columns: list[str]) -> FileRows:
    if not raw.strip():
        return _empty(columns)
    lines = raw.split(b"\n")
    if not lines[-1].strip():
        lines.pop()
    if all(line.strip() for line in lines):  # fast path: no blank lines, so record i is line i
        try:
            # text columns are read as text: a number, object or list there (whose text the fast
            # reader would change) sends the file to the line-by-line reader, which keeps it exactly
            table = pajson.read_json(
                io.BytesIO(raw),
                read_options=pajson.ReadOptions(use_threads=False, block_size=1 << 24),
                parse_options=pajson.ParseOptions(
                    newlines_in_values=False,
                    unexpected_field_behavior="infer",
                    explicit_schema=pa.schema([(c, pa.string()) for c in text_columns]),
                ),
            )
            simple = all(_flat(table.column(c).type) for c in columns if c in table.column_names)
            present = all(c in table.column_names and table.column(c).null_count < table.num_rows for c in required)
            if table.num_rows == len(lines) and simple and present:
                table = _with_columns(table, columns)
                n = table.num_rows
                return _cap_fields(FileRows(table, np.arange(1, n + 1), np.full(n, None, dtype=object)))
        except (pa.ArrowException, UnicodeDecodeError):
            pass
    return _read_jsonl_slow(lines, display, columns, required)


def _flat(typ: pa.DataType) -> bool:
    return (
        pa.types.is_string(typ)
        or pa.types.is_integer(typ)
        or pa.types.is_floating(typ)
        or pa.types.is_boolean(typ)
        or pa.types.is_null(typ)
    )


def _with_columns(table: pa.Table, columns: list[str]) -> pa.Table:
    """Select `columns`, adding absent (nullable) ones as all-null text."""
    return pa.table(
        {c: table.column(c) if c in table.column_names else pa.nulls(table.num_rows, pa.string()) for c in columns}
    )


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
            value, problem = _as_text(None if record is None else record.get(c))
            if problem:
                msg = f"{c}: {problem}"
                error = msg if error is None else f"{error}; {msg}"
            values[c].append(value)
        numbers.append(number)
        errors.append(error)
    if seen_keys:  # at least one object parsed: the required columns must be there
        _missing(display, sorted(seen_keys), required, "every JSON object")
    table = pa.table({c: pa.array(values[c], pa.string()) for c in columns})
    return _cap_fields(FileRows(table, np.array(numbers, dtype=np.int64), np.array(errors, dtype=object)))


def _as_text(value: object) -> tuple[str | None, str | None]:
    """A JSON value as contract text, and what is wrong with it (None when nothing)."""
    if value is None:
        return None, None
    if isinstance(value, str):
        text, problem = value, None
    elif isinstance(value, (dict, list)):
        text = json.dumps(value, ensure_ascii=False)
        problem = (
            f"a JSON {'object' if isinstance(value, dict) else 'array'} where a single value belongs: {_show(text)}"
        )
    elif isinstance(value, bool):
        return ("true" if value else "false"), None
    else:
        return str(value), None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # "\ud800" escapes decode to lone surrogates, which no UTF-8 text can hold
        text = text.encode("utf-8", errors="backslashreplace").decode("utf-8")
        problem = f"holds an escaped lone surrogate, which is not valid Unicode text: {_show(text)}"
    return text, problem


def _describe(exc: BaseException) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return (
            f"not valid UTF-8 (byte 0x{exc.object[exc.start]:02x} at position {exc.start}); re-export the file as UTF-8"
        )
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
