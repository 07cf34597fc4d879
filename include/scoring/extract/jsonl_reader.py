"""JSON-lines landing files: a fast whole-file read, and a line-by-line read that keeps every line.

Arrow reads a clean file in one pass, but it drops nothing gracefully: one truncated object fails
the whole file, and it would change the text of numbers, objects or lists found in text columns.
Any of that sends the file to the line-by-line reader, where every line becomes a row and an
unparseable one says why.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pyarrow as pa
import pyarrow.json as pajson

from include.scoring.extract.rows import (
    FileRows,
    cap_fields,
    describe_error,
    empty_rows,
    is_utf8,
    require_columns,
    show_text,
)


def read_jsonl(raw: bytes, display: str, columns: list[str], required: list[str], text_columns: list[str]) -> FileRows:
    """The records of a JSON-lines file (UTF-8 bytes without a byte-order mark) as `columns`.

    `required` columns must appear in the objects; `text_columns` are read as text.
    """
    if not raw.strip():
        return empty_rows(columns)
    lines = raw.split(b"\n")
    if not lines[-1].strip():
        lines.pop()
    # fast path: no blank lines (record i is line i) and valid UTF-8 (else Arrow fails or, worse, keeps
    # the bytes; the line-by-line read flags each line that is not UTF-8, as the CSV reader does)
    if is_utf8(raw) and all(line.strip() for line in lines):
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
                return cap_fields(FileRows(table, np.arange(1, n + 1), np.full(n, None, dtype=object)))
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
            error = f"line {number}: {describe_error(exc)}: {show_text(line.decode('utf-8', errors='replace'))}"
        for c in columns:
            value, problem = _as_text(None if record is None else record.get(c))
            if problem:
                msg = f"{c}: {problem}"
                error = msg if error is None else f"{error}; {msg}"
            values[c].append(value)
        numbers.append(number)
        errors.append(error)
    if seen_keys:  # at least one object parsed: the required columns must be there
        require_columns(display, sorted(seen_keys), required, "every JSON object")
    table = pa.table({c: pa.array(values[c], pa.string()) for c in columns})
    return cap_fields(FileRows(table, np.array(numbers, dtype=np.int64), np.array(errors, dtype=object)))


def _as_text(value: object) -> tuple[str | None, str | None]:
    """A JSON value as contract text, and what is wrong with it (None when nothing)."""
    if value is None:
        return None, None
    if isinstance(value, str):
        text, problem = value, None
    elif isinstance(value, (dict, list)):
        text = json.dumps(value, ensure_ascii=False)
        problem = (
            f"a JSON {'object' if isinstance(value, dict) else 'array'} where a single value belongs: {show_text(text)}"
        )
    elif isinstance(value, bool):
        return ("true" if value else "false"), None
    else:
        return str(value), None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # "\ud800" escapes decode to lone surrogates, which no UTF-8 text can hold
        text = text.encode("utf-8", errors="backslashreplace").decode("utf-8")
        problem = f"holds an escaped lone surrogate, which is not valid Unicode text: {show_text(text)}"
    return text, problem
