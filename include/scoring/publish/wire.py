"""Rows of a warehouse table as the database takes them in bulk: pure conversions, no I/O.

Publish builds its rows as Arrow tables (rows.py); warehouse.py writes them with PostgreSQL COPY
(`copy_csv`: the whole table rendered by pyarrow's CSV writer in one call) or with one
executemany of bound parameters (`params`: column lists built with Arrow and numpy, zipped into
tuples), never a dict per row. `conform` first gives a table exactly the warehouse table's columns,
in its order and of its types, with NaN as NULL (as pandas' `notna` made it before).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import sqlalchemy as sa

#: SQLAlchemy's storage formats on SQLite (sqlalchemy.dialects.sqlite DATE and DATETIME), which the
#: dashboard and the tests read back: a date as 2026-10-13, a time as 2026-10-13 09:30:00.000000
SQLITE_DATE = "%Y-%m-%d"
SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S"  # Arrow prints %S of a microsecond timestamp with its 6 decimals
CSV_OPTIONS = pacsv.WriteOptions(include_header=False, quoting_style="needed")


def arrow_type(column: sa.Column) -> pa.DataType:
    kind = column.type
    if isinstance(kind, sa.Boolean):
        return pa.bool_()
    if isinstance(kind, sa.Integer):
        return pa.int64()
    if isinstance(kind, sa.Float):
        return pa.float64()
    if isinstance(kind, sa.DateTime):
        return pa.timestamp("us", tz="UTC" if kind.timezone else None)
    if isinstance(kind, sa.Date):
        return pa.date32()
    if isinstance(kind, sa.String):
        return pa.string()
    raise TypeError(f"no Arrow type for column {column.table.name}.{column.name} of type {kind}")


def schema(table: sa.Table) -> pa.Schema:
    return pa.schema([pa.field(c.name, arrow_type(c)) for c in table.columns])


def conform(rows: pa.Table | list[dict], table: sa.Table) -> pa.Table:
    """`rows` with the columns of `table`, in its order and of its Arrow types (a missing column
    is NULL, other columns are left out); NaN becomes NULL; a time without zone is UTC."""
    target = schema(table)
    if not isinstance(rows, pa.Table):
        return pa.Table.from_pylist(rows, schema=target)
    columns = []
    for field in target:
        if field.name not in rows.column_names:
            columns.append(pa.nulls(rows.num_rows, field.type))
            continue
        values = rows[field.name]
        if pa.types.is_dictionary(values.type):
            values = values.cast(values.type.value_type)
        if pa.types.is_floating(values.type):
            values = pc.if_else(pc.is_nan(values), pa.scalar(None, values.type), values)
        if pa.types.is_timestamp(values.type) and pa.types.is_timestamp(field.type):
            if values.type.tz is None and field.type.tz is not None:
                values = pc.assume_timezone(values, field.type.tz)
            values = values.cast(field.type, safe=False)  # nanoseconds cut to microseconds, as before
        columns.append(values.cast(field.type))
    return pa.table(columns, schema=target)


def copy_csv(rows: pa.Table | pa.RecordBatch) -> pa.Buffer:
    """COPY ... FROM STDIN (FORMAT csv) data of a conformed table: every text quoted (so an empty
    text is "" and the end-of-data marker cannot occur), NULL as an unquoted empty field."""
    sink = pa.BufferOutputStream()
    pacsv.write_csv(rows, sink, CSV_OPTIONS)
    return sink.getvalue()


def _objects(values: pa.ChunkedArray, fill) -> list:
    """Python values of a numeric column, None for NULL (Python int, float, bool: numpy's
    object conversion, in C)."""
    valid = values.is_valid().to_numpy(zero_copy_only=False)
    out = values.fill_null(fill).to_numpy(zero_copy_only=False).astype(object)
    out[~valid] = None
    return out.tolist()


def _column(values: pa.ChunkedArray, dialect: str) -> list:
    kind = values.type
    if pa.types.is_string(kind):
        return values.to_numpy(zero_copy_only=False).tolist()
    if pa.types.is_floating(kind):
        return _objects(values, 0.0)
    if pa.types.is_integer(kind):
        return _objects(values, 0)
    if pa.types.is_boolean(kind):
        return _objects(values.cast(pa.int64()), 0) if dialect == "sqlite" else _objects(values, False)
    if dialect == "sqlite" and pa.types.is_date(kind):
        return pc.strftime(values, SQLITE_DATE).to_numpy(zero_copy_only=False).tolist()
    if dialect == "sqlite" and pa.types.is_timestamp(kind):
        return pc.strftime(values, SQLITE_DATETIME).to_numpy(zero_copy_only=False).tolist()
    return values.to_pylist()  # dates and times for a driver that binds them itself


def params(rows: pa.Table, dialect: str) -> list[tuple]:
    """Bound parameters of a conformed table, one tuple per row, in column order. On SQLite
    booleans, dates and times are given in SQLAlchemy's storage form (1/0, text); other drivers
    get Python values."""
    return list(zip(*(_column(values, dialect) for values in rows.columns), strict=True))
