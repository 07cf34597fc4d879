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

This module picks the reader and puts every text file into one encoding first, so the CSV
(`csv_reader`) and JSON-lines (`jsonl_reader`) readers only ever see UTF-8; Parquet, which
carries its own types, is read here. What a reader returns, and how it reports a broken
record, lives in `rows`.
"""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from include.scoring.core.errors import ExtractError
from include.scoring.extract.csv_reader import read_csv
from include.scoring.extract.jsonl_reader import read_jsonl
from include.scoring.extract.rows import FileRows, cap_fields, describe_error, require_columns, show_text

SUPPORTED = {".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}
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
        return read_csv(raw, display, columns)
    return read_jsonl(raw, display, columns, required, text_columns or columns)


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


def _read_parquet(path: Path, display: str, columns: list[str]) -> FileRows:
    try:
        pf = pq.ParquetFile(path)
        names = pf.schema_arrow.names
        require_columns(display, names, columns, "the Parquet schema")
        twice = sorted({c for c in columns if names.count(c) > 1})
        if twice:
            raise ExtractError(
                f"{display}: the Parquet schema has column(s) {', '.join(twice)} more than once, so which "
                "one holds the values is unknown. Re-export the file with each column once, then clear the "
                "extract task."
            )
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
    return cap_fields(FileRows(table, np.arange(1, n + 1), errors))


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
                problem = f"{name}: {describe_error(exc)}"
        elif isinstance(value, (dict, list, tuple)):
            text = json.dumps(value, ensure_ascii=False, default=str)
            problem = f"{name}: a nested value where a single value belongs: {show_text(text)}"
        else:
            text = value.isoformat() if hasattr(value, "isoformat") else str(value)
        if problem:
            errors[row] = problem if errors[row] is None else f"{errors[row]}; {problem}"
        out.append(text)
    return pa.chunked_array([pa.array(out, pa.string())])
