"""CSV landing files: a fast whole-file read, and a record-by-record read when the fast one cannot be trusted.

Arrow reads a well-formed file in one pass, but it cannot show rows that are not UTF-8 and it
numbers records wrongly around blank lines and quoted line breaks. When any of that is present
the file is read again record by record, so every record is one row numbered by its first line
and a broken one says why.
"""

from __future__ import annotations

import csv
import io

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from include.scoring.core.errors import ExtractError
from include.scoring.extract.rows import (
    FileRows,
    cap_fields,
    describe_error,
    empty_rows,
    is_utf8,
    require_columns,
    show_text,
)

MAX_RECORD_LINES = 200  # physical lines one quoted CSV value may span before the record counts as broken
_BARE_CR = "\ud800"  # stands for a carriage return while a record is split; text decoded from UTF-8 has none


def read_csv(raw: bytes, display: str, columns: list[str]) -> FileRows:
    """The records of a CSV file (UTF-8 bytes without a byte-order mark) as text `columns`."""
    if not raw.strip():
        return empty_rows(columns)
    header = _csv_header(raw, display, columns)
    require_columns(display, [h.strip() for h in header], columns, "the header line")
    invalid: list[tuple[int, str]] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        invalid.append(
            (
                row.number or 0,
                f"expected {row.expected_columns} fields, found {row.actual_columns}: {show_text(row.text)}",
            )
        )
        return "skip"

    if not is_utf8(raw) or raw.count(b"\r") != raw.count(b"\r\n"):
        # bytes that are not UTF-8 (the fast reader cannot even show the broken rows), or a bare
        # carriage return (a row break to Arrow, part of a value here: the line count below cannot tell
        # when it makes up for a quoted line break)
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
    return cap_fields(rows)


def _csv_header(raw: bytes, display: str, columns: list[str]) -> list[str]:
    header_end = raw.find(b"\n")
    header_text = (raw if header_end < 0 else raw[:header_end]).decode("utf-8", errors="replace").removesuffix("\r")
    try:
        return next(csv.reader([header_text]), [])
    except csv.Error as exc:
        raise ExtractError(
            f"{display}: the header line cannot be read as CSV ({exc}): {show_text(header_text)}. "
            "Expected a first line naming the columns "
            f"{', '.join(columns)}. Re-export the file as UTF-8 CSV with a header line, then clear the extract task."
        ) from None


def _physical_lines(raw: bytes) -> int:
    return raw.count(b"\n") + (0 if raw.endswith(b"\n") else 1)


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


def _csv_fields(text: str) -> tuple[list[str] | None, str | None]:
    """Fields of one CSV record; (None, "open") when a quoted value is not closed by its end.
    A record ends at a line feed only: a bare carriage return inside it is part of a value."""
    if "\r" in text:
        fields, problem = _csv_fields(text.replace("\r", _BARE_CR))
        return (None if fields is None else [f.replace(_BARE_CR, "\r") for f in fields]), problem
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
                f"line {number}: a quoted value is not closed on this line or the next "
                f"{MAX_RECORD_LINES - 1}: {show_text(text)}",
                1,
            )
    if bad is not None:
        return None, f"line {number}: {describe_error(bad)}: {show_text(text)}", used
    if fields is None:
        return None, f"line {number}: {problem}: {show_text(text)}", 1
    if len(fields) != width:
        return None, f"line {number}: expected {width} fields, found {len(fields)}: {show_text(text)}", used
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
    return cap_fields(FileRows(table, np.array(numbers, dtype=np.int64), np.array(errors, dtype=object)))
