"""The warehouse (SPEC sections 6 and 7), through SQLAlchemy 2 Core: SQLite or PostgreSQL.

Tables are created idempotently and carry a schema version; a warehouse written by a newer
version of this code is refused with a clear error rather than written into. Every write uses
bound parameters; bulk writes take Arrow tables (wire.py) and go through one executemany of
tuples, or COPY on PostgreSQL for large ones.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from contextlib import contextmanager

import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from include.scoring.core.errors import WarehouseError, WarehouseUnavailable
from include.scoring.core.urls import mask_url
from include.scoring.publish import wire
from include.scoring.publish.tables import (  # noqa: F401 - the tables are used through this module too
    SCHEMA_VERSION,
    TABLES,
    account_explanations,
    account_score_history,
    account_scores,
    metadata,
    pipeline_runs,
    privacy_erasures,
    schema_info,
    score_alerts,
    score_resets,
)

log = logging.getLogger(__name__)

SCHEMA_LOCK_KEY = 0x656E6761  # "enga": pg_advisory_xact_lock key of schema creation


def connect(url: str) -> sa.Engine:
    try:
        # hide_parameters: a database error never quotes the rows being written (warehouse rows in a log)
        return sa.create_engine(url, pool_pre_ping=True, hide_parameters=True)
    except Exception as exc:  # noqa: BLE001 - a malformed URL is a usage problem
        raise WarehouseError(
            f"warehouse URL {mask_url(url)} is not usable: {exc}. Check ENGAGEMENT_WAREHOUSE_URL or the "
            "engagement_warehouse connection."
        ) from None


@contextmanager
def transaction(warehouse: str | sa.Engine):
    """One transaction on the warehouse (a URL, or an engine from `warehouse_engine` that many
    short transactions share); connection problems become a WarehouseError."""
    engine = connect(warehouse) if isinstance(warehouse, str) else warehouse
    try:
        with engine.begin() as conn:
            yield conn
    except sa.exc.OperationalError as exc:
        shown = mask_url(warehouse) if isinstance(warehouse, str) else engine.url.render_as_string(hide_password=True)
        raise WarehouseUnavailable(
            f"warehouse {shown} is unreachable or failed mid-write: "
            f"{str(exc.orig).strip().splitlines()[0][:300]}. "
            "Nothing of this write was committed. Check the database, then clear the task to retry."
        ) from None
    finally:
        if isinstance(warehouse, str):
            engine.dispose()


@contextmanager
def warehouse_engine(url: str):
    """One engine for a loop of short transactions (one per alert email): each reuses the pooled
    connection instead of opening and closing its own (about 25 ms each on PostgreSQL)."""
    engine = connect(url)
    try:
        yield engine
    finally:
        engine.dispose()


def ensure_schema(conn: sa.Connection) -> None:
    """Create missing tables; refuse a warehouse of a newer schema version.

    Several publishes (different days) may start on a fresh warehouse at once: on PostgreSQL the
    one that creates tables holds an advisory lock until it commits, so the others wait and then
    find the tables, instead of failing on a duplicate type or key.
    """
    present = set(sa.inspect(conn).get_table_names())  # one catalog query, not two per table
    if any(t.name not in present for t in metadata.sorted_tables):
        if conn.dialect.name == "postgresql":
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(SCHEMA_LOCK_KEY)))
        metadata.create_all(conn, checkfirst=True)
    row = conn.execute(sa.select(schema_info.c.value).where(schema_info.c.key == "schema_version")).scalar()
    if row is None:
        conn.execute(
            _insert(conn, schema_info)
            .values(key="schema_version", value=str(SCHEMA_VERSION))
            .on_conflict_do_nothing(index_elements=["key"])
        )
    elif int(row) < SCHEMA_VERSION:
        _upgrade(conn, int(row))
    elif int(row) > SCHEMA_VERSION:
        raise WarehouseError(
            f"the warehouse has schema version {row}, newer than this pipeline's {SCHEMA_VERSION}: it was written by "
            "a newer release. "
            "Upgrade the pipeline (or point ENGAGEMENT_WAREHOUSE_URL at another database); nothing was written."
        )


def _upgrade(conn: sa.Connection, version: int) -> None:
    """Bring a warehouse of an older schema version up to date in the caller's transaction: the
    columns added since are nullable, so they are added in place (no rewrite, no data lost)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(SCHEMA_LOCK_KEY)))
    inspector = sa.inspect(conn)
    for table in metadata.sorted_tables:
        present = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in present and column.nullable:
                kind = column.type.compile(dialect=conn.dialect)
                # identifiers and types of our own Table definitions, no user input
                conn.exec_driver_sql(f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}')
    conn.execute(schema_info.update().where(schema_info.c.key == "schema_version").values(value=str(SCHEMA_VERSION)))
    log.info("warehouse schema upgraded from version %d to %d", version, SCHEMA_VERSION)


def _insert(conn: sa.Connection, table: sa.Table):
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


COPY_THRESHOLD = 2_000
COPY_BATCH = 16_384
#: rows to write: an Arrow table, a few dicts, or (upserts) a SELECT of rows already in the database
Rows = pa.Table | list[dict] | sa.Select


def _columns(table: sa.Table) -> str:
    return ", ".join(f'"{c.name}"' for c in table.columns)


def copy_rows(conn: sa.Connection, target: str, table: sa.Table, rows: pa.Table) -> None:
    """PostgreSQL COPY of conformed `rows` into `target` (our own table names: no user input in
    the SQL). The rows go as CSV rendered by pyarrow, COPY_BATCH rows per write, so the server
    parses one batch while the next is rendered."""
    raw = conn.connection.dbapi_connection
    with raw.cursor() as cur, cur.copy(f'COPY "{target}" ({_columns(table)}) FROM STDIN (FORMAT csv)') as copy:
        for batch in rows.to_batches(max_chunksize=COPY_BATCH):
            copy.write(memoryview(wire.copy_csv(batch)))


def _executemany(conn: sa.Connection, sql: str, rows: pa.Table) -> None:
    """One executemany of bound parameters (tuples built column by column, wire.params)."""
    conn.exec_driver_sql(sql, wire.params(rows, conn.dialect.name))


def _values_sql(conn: sa.Connection, table: sa.Table) -> str:
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    return f'INSERT INTO "{table.name}" ({_columns(table)}) VALUES ({", ".join(mark for _ in table.columns)})'


def _use_copy(conn: sa.Connection, rows: pa.Table) -> bool:
    return conn.dialect.name == "postgresql" and rows.num_rows >= COPY_THRESHOLD


def bulk_insert(conn: sa.Connection, table: sa.Table, rows: Rows) -> None:
    """Plain inserts of many rows: COPY on PostgreSQL, one executemany elsewhere."""
    rows = wire.conform(rows, table)
    if not rows.num_rows:
        return
    if _use_copy(conn, rows):
        copy_rows(conn, table.name, table, rows)
    else:
        _executemany(conn, _values_sql(conn, table), rows)


def _on_conflict(table: sa.Table, keys: list[str], where_newer: str | None, update: bool, keep: tuple[str, ...]) -> str:
    """The ON CONFLICT clause of an upsert (identifiers of our own Table definitions only)."""
    conflict = ", ".join(f'"{k}"' for k in keys)
    if not update:
        return f"ON CONFLICT ({conflict}) DO NOTHING"
    updates = ", ".join(f'"{c.name}" = EXCLUDED."{c.name}"' for c in table.columns if c.name not in (*keys, *keep))
    where = f' WHERE "{table.name}"."{where_newer}" <= EXCLUDED."{where_newer}"' if where_newer else ""
    return f"ON CONFLICT ({conflict}) DO UPDATE SET {updates}{where}"


def _write(
    conn: sa.Connection,
    table: sa.Table,
    rows: Rows,
    keys: list[str],
    where_newer: str | None = None,
    update: bool = True,
    keep: tuple[str, ...] = (),
) -> None:
    """INSERT ... ON CONFLICT of `rows`. PostgreSQL, many rows: COPY into a temporary table, then
    one INSERT ... SELECT ... ON CONFLICT; else one executemany of INSERT ... VALUES ... ON CONFLICT.

    The SQL text holds identifiers only, all from this module's own Table definitions (table,
    column and key names, quoted); every value travels as a bound parameter or in COPY's data stream.
    A SELECT (rows already written, e.g. the day's history) becomes one INSERT ... SELECT."""
    if isinstance(rows, sa.Select):
        _write_selected(conn, table, rows, keys, where_newer, update, keep)
        return
    rows = wire.conform(rows, table)
    if not rows.num_rows:
        return
    action = _on_conflict(table, keys, where_newer, update, keep)
    if not _use_copy(conn, rows):
        _executemany(conn, f"{_values_sql(conn, table)} {action}", rows)
        return
    temp = f"_load_{table.name}"
    conn.exec_driver_sql(f'CREATE TEMP TABLE "{temp}" (LIKE "{table.name}" INCLUDING DEFAULTS) ON COMMIT DROP')
    copy_rows(conn, temp, table, rows)
    columns = _columns(table)
    conn.exec_driver_sql(f'INSERT INTO "{table.name}" ({columns}) SELECT {columns} FROM "{temp}" {action}')
    conn.exec_driver_sql(f'DROP TABLE "{temp}"')


def _write_selected(
    conn: sa.Connection,
    table: sa.Table,
    rows: sa.Select,
    keys: list[str],
    where_newer: str | None,
    update: bool,
    keep: tuple[str, ...],
) -> None:
    stmt = _insert(conn, table).from_select([c.name for c in table.columns], rows)
    if update:
        changed = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in (*keys, *keep)}
        where = table.c[where_newer] <= stmt.excluded[where_newer] if where_newer else None
        stmt = stmt.on_conflict_do_update(index_elements=keys, set_=changed, where=where)
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=keys)
    conn.execute(stmt)


def upsert(
    conn: sa.Connection,
    table: sa.Table,
    rows: Rows,
    keys: Iterable[str],
    where_newer: str | None = None,
    keep: tuple[str, ...] = (),
) -> None:
    """INSERT ... ON CONFLICT (keys) DO UPDATE; `where_newer` keeps newer rows; columns in `keep`
    are written by an insert but never changed by the update (values another step owns). Large
    PostgreSQL loads go through COPY and one set-based upsert."""
    _write(conn, table, rows, list(keys), where_newer, keep=keep)


def insert_missing(conn: sa.Connection, table: sa.Table, rows: Rows, keys: Iterable[str]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING: existing rows (e.g. already-sent alerts) stay as they are."""
    _write(conn, table, rows, list(keys), update=False)


def records(frame: pd.DataFrame, columns: list[str]) -> list[dict]:
    """Plain Python values (None for nulls) for bound parameters."""
    out = frame[columns].astype(object).where(frame[columns].notna(), None)
    rows = out.to_dict("records")
    for row in rows:
        for key, value in row.items():
            if hasattr(value, "to_pydatetime"):
                row[key] = value.to_pydatetime()
            elif hasattr(value, "item"):
                row[key] = value.item()
    return rows


def read_table(url: str, query: sa.Select) -> pd.DataFrame:
    engine = connect(url)
    try:
        with engine.connect() as conn:
            result = conn.execute(query)
            return pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    except sa.exc.OperationalError as exc:
        raise WarehouseUnavailable(
            f"warehouse {mask_url(url)} could not be read: {str(exc.orig).strip().splitlines()[0][:300]}"
        ) from None
    finally:
        engine.dispose()
