"""The SQL CRM: any SQLAlchemy database holding the four contract tables (SPEC section 3).

Read: each table whole, in id order, in bounded chunks. Push: the `engagement_*` columns of the
accounts table where they changed, in one transaction (all or nothing). `init-crm` adds those
columns; the push never does it silently.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from include.scoring.core.contracts import CONTRACTS, CRM_TABLES
from include.scoring.core.errors import ExtractError, PipelineError, SourceUnavailable, UsageError
from include.scoring.core.urls import mask_url
from include.scoring.crm.base import (
    PUSHED_FIELDS,
    SQL_FIELDS,
    CrmConnector,
    CrmNotInitialized,
    CrmRead,
    CrmTable,
    PushOutcome,
    changed_accounts,
)
from include.scoring.crm.records import values_to_arrow

CRM_CHUNK = 200_000
#: rows per UPDATE round trip (one transaction whatever the count)
PUSH_BATCH = 1000


class SqlCrm(CrmConnector):
    kind = "sql"

    def __init__(self, crm_url: str):
        self.url = crm_url
        try:
            self.engine = sa.create_engine(crm_url)
        except Exception as exc:  # noqa: BLE001 - a malformed URL is a user error
            raise ExtractError(
                f"CRM URL {mask_url(crm_url)} is not usable: {exc}. "
                "Check ENGAGEMENT_CRM_URL or the engagement_crm connection."
            ) from None

    def close(self) -> None:
        self.engine.dispose()

    # Read ---------------------------------------------------------------------------------------
    def read(self, since: dict[str, str] | None = None) -> CrmRead:
        """The four tables whole (a SQL CRM carries no change marks on every table)."""
        try:
            with self.engine.connect() as conn:
                inspector = sa.inspect(conn)
                tables = {name: self._read_table(conn, inspector, name) for name in CRM_TABLES}
        except sa.exc.OperationalError as exc:
            raise SourceUnavailable(
                f"cannot read the CRM at {mask_url(self.url)}: {str(exc.orig).strip()[:300]}. "
                "Check that the database is up and the URL / engagement_crm connection is right, then clear the task."
            ) from None
        return CrmRead(tables)

    def _read_table(self, conn, inspector, name: str) -> CrmTable:
        contract = CONTRACTS[f"crm/{name}"]
        if not inspector.has_table(name):
            raise ExtractError(
                f"CRM at {mask_url(self.url)} has no table {name!r}. Expected tables: {', '.join(CRM_TABLES)}."
            )
        present = {c["name"] for c in inspector.get_columns(name)}
        missing = [c for c in contract.names if c not in present]
        if missing:
            raise ExtractError(
                f"CRM table {name!r} at {mask_url(self.url)} lacks contract column(s) {', '.join(missing)}; "
                f"found {', '.join(sorted(present))}. Add or map the columns, then clear the extract task."
            )
        table_ref = sa.table(name, *[sa.column(c) for c in contract.names])
        query = sa.select(*table_ref.c).order_by(table_ref.c[contract.id_column])
        chunks = []
        for rows in conn.execute(query).partitions(CRM_CHUNK):  # bounded memory for large CRMs
            columns = list(zip(*rows)) if rows else [()] * len(contract.names)
            chunks.append(pa.table({c: values_to_arrow(values) for c, values in zip(contract.names, columns)}))
        table = concat_text(chunks, contract.names)
        return CrmTable(name, table, np.full(table.num_rows, f"crm:{name}", dtype=object))

    # Push ---------------------------------------------------------------------------------------
    def _accounts(self) -> sa.TableClause:
        return sa.table("accounts", *[sa.column(c) for c in ("account_id", *SQL_FIELDS)])

    def missing_push_fields(self) -> list[str]:
        with self.engine.connect() as conn:
            present = {c["name"] for c in sa.inspect(conn).get_columns("accounts")}
        return [c for c in SQL_FIELDS if c not in present]

    def init_push_fields(self) -> list[str]:
        """Add the engagement columns to the accounts table (explicit, idempotent)."""
        added = []
        try:
            with self.engine.begin() as conn:
                if not sa.inspect(conn).has_table("accounts"):
                    raise UsageError(
                        f"the CRM at {mask_url(self.url)} has no accounts table: is ENGAGEMENT_CRM_URL (--crm-url) "
                        "the CRM database? Nothing was changed."
                    )
                present = {c["name"] for c in sa.inspect(conn).get_columns("accounts")}
                for name, sql_type in SQL_FIELDS.items():
                    if name not in present:
                        kind = "REAL" if sql_type == "DOUBLE PRECISION" and conn.dialect.name == "sqlite" else sql_type
                        conn.execute(sa.text(f"ALTER TABLE accounts ADD COLUMN {name} {kind}"))  # fixed identifiers
                        added.append(name)
        except sa.exc.OperationalError as exc:
            raise PipelineError(
                f"cannot add the engagement columns to the CRM at {mask_url(self.url)}: {str(exc.orig).strip()[:300]}"
            ) from None
        return added

    def push(self, scores: pd.DataFrame, day: date) -> PushOutcome:
        """Update the changed accounts' columns in one transaction: all of them or none."""
        accounts = self._accounts()
        compared = [f for f in PUSHED_FIELDS if f.compared]
        try:
            with self.engine.begin() as conn:
                present = {c["name"] for c in sa.inspect(conn).get_columns("accounts")}
                missing = [c for c in SQL_FIELDS if c not in present]
                if missing:
                    raise CrmNotInitialized(
                        f"the CRM accounts table at {mask_url(self.url)} has no engagement column(s) "
                        f"{', '.join(missing)}. They are created only by the explicit step: "
                        "python -m include.scoring init-crm"
                    )
                current = pd.DataFrame(
                    conn.execute(
                        sa.select(accounts.c.account_id, *[accounts.c[f.sql_column] for f in compared])
                    ).fetchall(),
                    columns=["account_id", *[f"cur_{f.key}" for f in compared]],
                )
                changed, unchanged = changed_accounts(scores, current)
                stmt = (
                    accounts.update()
                    .where(accounts.c.account_id == sa.bindparam("b_id"))
                    .values({f.sql_column: sa.bindparam(f"b_{f.key}") for f in PUSHED_FIELDS})
                )
                rows = [
                    {"b_id": r["account_id"], **{f"b_{f.key}": _sql_value(f, r, day) for f in PUSHED_FIELDS}}
                    for r in changed.to_dict("records")
                ]
                batches = []
                for start in range(0, len(rows), PUSH_BATCH):
                    conn.execute(stmt, rows[start : start + PUSH_BATCH])
                    batches.append(len(rows[start : start + PUSH_BATCH]))
        except sa.exc.OperationalError as exc:
            raise PipelineError(
                f"the CRM at {mask_url(self.url)} could not be updated: {str(exc.orig).strip()[:300]}. Nothing was "
                "changed; clear push_crm to retry."
            ) from None
        return PushOutcome([r["b_id"] for r in rows], unchanged, [], batches)


def _sql_value(f, row: dict, day: date):
    if f.column is None:
        return day
    value = row[f.column]
    if value is None or (isinstance(value, float) and value != value):
        return None
    return float(value) if f.kind == "number" else value


def concat_text(chunks: list[pa.Table], names: list[str]) -> pa.Table:
    """Concatenate chunks whose column types were inferred separately (text wins on conflict)."""
    if not chunks:
        return pa.table({c: pa.array([], pa.string()) for c in names})
    try:
        return pa.concat_tables(chunks, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.concat_tables([t.cast(pa.schema([(c, pa.string()) for c in names])) for t in chunks])
