"""What every landing-file reader returns, and the helpers they share to report broken records.

CSV, JSON lines and Parquet files break in different ways, but a broken record must look the
same whichever reader found it: a row whose `parse_error` names the problem and shows a bounded
excerpt of the text, and no field so long that one hostile value can blow up memory. Keeping
those rules here means the readers cannot drift apart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from include.scoring.core.errors import ExtractError

MAX_SHOWN = 160  # characters of a broken line kept in its error message
MAX_FIELD = 100_000  # characters kept of any one field; longer values are cut and flagged


@dataclass
class FileRows:
    """The records of one file: contract columns (typed as found), line numbers, parse errors."""

    table: pa.Table
    lines: np.ndarray
    parse_errors: np.ndarray  # object array: None or a message per row


def show_text(text: str) -> str:
    """A broken line as an error message shows it: line breaks escaped, cut to MAX_SHOWN characters."""
    text = text.replace("\r", "\\r").replace("\n", "\\n")
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + "..."


def describe_error(exc: BaseException) -> str:
    """Why a record could not be read, in words that tell the user what to fix."""
    if isinstance(exc, UnicodeDecodeError):
        return (
            f"not valid UTF-8 (byte 0x{exc.object[exc.start]:02x} at position {exc.start}); re-export the file as UTF-8"
        )
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON ({exc.msg} at column {exc.colno})"
    return str(exc)


def require_columns(display: str, found: list[str], columns: list[str], where: str) -> None:
    """Raise ExtractError naming the file when `found` (the names in `where`) lacks any of `columns`."""
    missing = [c for c in columns if c not in found]
    if missing:
        raise ExtractError(
            f"{display}: {where} lacks contract column(s) {', '.join(missing)}. Found: "
            f"{', '.join(found[:30]) or '(nothing)'}. Expected: {', '.join(columns)}. "
            "Fix the export upstream (or rename the columns), then clear the extract task."
        )


def empty_rows(columns: list[str]) -> FileRows:
    """The rows of a file holding no records: the contract columns as text, zero rows."""
    table = pa.table({c: pa.array([], pa.string()) for c in columns})
    return FileRows(table, np.zeros(0, np.int64), np.zeros(0, dtype=object))


def cap_fields(rows: FileRows) -> FileRows:
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


def is_utf8(raw: bytes) -> bool:
    """Whether the bytes are valid UTF-8, checked by Arrow without copying them."""
    data = pa.Array.from_buffers(
        pa.large_binary(), 1, [None, pa.py_buffer(np.array([0, len(raw)], dtype=np.int64)), pa.py_buffer(raw)]
    )
    try:
        data.cast(pa.large_string())
    except pa.ArrowInvalid:
        return False
    return True
