"""The CRM connector interface (the connectors are chosen by URL scheme in crm/connector.py).

A connector does the two things the pipeline asks of a CRM:
- `read(since)`: the four contract tables (accounts, contacts, activities, opportunities) as the
  day's snapshot, in contract columns, values as the CRM gave them (extract coerces and checks
  them like any input). With `since` (per CRM object, the high-water mark of the last snapshot)
  an API connector reads only what changed; extract merges that into the stored snapshot.
- `push(scores, day)`: write the engagement fields of the accounts whose values changed, and say
  which were updated, which were unchanged and which the CRM rejected (retried next run, since
  they still differ).

| URL | connector |
|---|---|
| any SQLAlchemy URL (`sqlite:///...`, `postgresql+psycopg://...`) | `sql.SqlCrm`: the contract tables in a database |
| `salesforce+https://TOKEN@INSTANCE_HOST` | `salesforce.SalesforceCrm`: REST API |
| `hubspot+https://TOKEN@api.hubapi.com` | `hubspot.HubSpotCrm`: CRM v3 API |

The pushed fields are declared once, in `PUSHED_FIELDS`: adding one there (plus its name in each
connector's `push_fields` config) adds it to every connector's push, init-crm and change check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from include.scoring.core.errors import CrmError


class CrmNotInitialized(CrmError):
    """The CRM lacks the engagement fields; `init-crm` adds them (SQL) or lists what to create (APIs)."""


@dataclass(frozen=True)
class PushField:
    """One engagement field the push writes to the CRM account."""

    key: str  # the config key of its CRM name (crm.salesforce.push_fields.<key>, ...)
    column: str | None  # the scores column it carries (None: the scored day)
    kind: Literal["number", "text", "date"]
    compared: bool  # a change of this value makes the account "changed"
    sql_column: str  # column of the SQL CRM's accounts table
    sql_type: str
    salesforce_type: str  # what to create in Salesforce (init-crm says so)
    hubspot_type: str  # HubSpot property type / field type
    #: decimals a number is compared at: a smaller move does not count as a change (the
    #: percentile moves with every other account's score; a whole point is worth a CRM write)
    precision: int = 2


PUSHED_FIELDS: tuple[PushField, ...] = (
    PushField("score", "score", "number", True, "engagement_score", "DOUBLE PRECISION", "Number(16, 2)", "number"),
    PushField("band", "band", "text", True, "engagement_band", "VARCHAR(32)", "Text(32)", "string / text"),
    PushField("trend", "trend", "text", True, "engagement_trend", "VARCHAR(8)", "Text(8)", "string / text"),
    PushField(
        "percentile",
        "engagement_percentile",
        "number",
        True,
        "engagement_percentile",
        "DOUBLE PRECISION",
        "Number(5, 1)",
        "number",
        precision=0,
    ),
    PushField("health", "health", "text", True, "engagement_health", "VARCHAR(16)", "Text(16)", "string / text"),
    PushField("scored_at", None, "date", False, "engagement_scored_at", "DATE", "Date", "date / date"),
)
#: the SQL CRM's engagement columns and their types
SQL_FIELDS = {f.sql_column: f.sql_type for f in PUSHED_FIELDS}
#: the scores columns the push reads
SCORE_COLUMNS = ["account_id", *[f.column for f in PUSHED_FIELDS if f.column]]


@dataclass
class CrmTable:
    """One contract table as read: contract columns (CRM values), and each row's origin."""

    name: str
    table: pa.Table
    origin: np.ndarray  # per row, what it was read from: "crm:accounts", "salesforce:Task", ...
    #: "full", or "incremental" (only the rows changed since the last snapshot: merged by extract)
    mode: str = "full"


@dataclass
class CrmRead:
    tables: dict[str, CrmTable]
    #: per CRM object read, the highest modification time seen (ISO-8601), for the next incremental read
    watermarks: dict[str, str | None] = field(default_factory=dict)
    #: per table, records read but not part of the snapshot, by reason (an activity no rule types...)
    skipped: dict[str, dict[str, int]] = field(default_factory=dict)
    #: per CRM object read, "full" or "incremental"
    modes: dict[str, str] = field(default_factory=dict)
    api_calls: int = 0


@dataclass
class PushOutcome:
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    #: (account_id, the CRM's reason) of records the CRM rejected: retried on the next run
    failed: list[tuple[str, str]] = field(default_factory=list)
    #: records per write call, in order
    batches: list[int] = field(default_factory=list)
    api_calls: int = 0


class CrmConnector:
    """Base of the connectors (see the module doc)."""

    kind = "crm"
    #: whether `read(since=...)` can read only what changed
    incremental = False

    def read(self, since: dict[str, str] | None = None) -> CrmRead:
        raise NotImplementedError

    def missing_push_fields(self) -> list[str]:
        """The engagement fields the CRM lacks (empty when the push can run)."""
        raise NotImplementedError

    def init_push_fields(self) -> list[str]:
        """Add the missing fields (SQL) or raise CrmNotInitialized saying which to create (APIs)."""
        raise NotImplementedError

    def push(self, scores: pd.DataFrame, day: date) -> PushOutcome:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> CrmConnector:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def changed_accounts(scores: pd.DataFrame, current: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The scores whose compared fields differ from the CRM's `current` values, and how many of
    the accounts known to both are unchanged. `current` has account_id and one `cur_<key>` column
    per compared field; accounts the CRM does not have are left out (nothing to update)."""
    merged = scores.merge(current, on="account_id", how="inner")
    differs = np.zeros(len(merged), bool)
    for f in PUSHED_FIELDS:
        if not f.compared:
            continue
        cur, new = merged[f"cur_{f.key}"], merged[f.column]
        if f.kind == "number":
            cur_num = pd.to_numeric(cur, errors="coerce").astype(float).round(f.precision)
            new_num = pd.to_numeric(new, errors="coerce").astype(float).round(f.precision)
            same = (cur_num == new_num) | (cur_num.isna() & new_num.isna())
            differs |= ~same.to_numpy(dtype=bool)
        else:
            same = cur.astype("string").fillna("\x00") == new.astype("string").fillna("\x00")  # both empty: same
            differs |= ~same.to_numpy(dtype=bool)
    changed = merged.loc[differs, scores.columns].reset_index(drop=True)
    return changed, int(len(merged) - differs.sum())


def push_values(changed: pd.DataFrame, day: date) -> pd.DataFrame:
    """Per changed account, the value of every pushed field (keyed by PushField.key); a missing
    value is None (JSON null, SQL NULL), never NaN."""
    out = pd.DataFrame({"account_id": changed["account_id"].astype(str)})
    for f in PUSHED_FIELDS:
        if f.column is None:
            out[f.key] = day.isoformat()
            continue
        values = changed[f.column].astype(float).round(2) if f.kind == "number" else changed[f.column]
        # object dtype on purpose: pandas would read None back as NaN in a float or str column
        out[f.key] = pd.Series(
            values.astype(object).where(values.notna(), None).to_numpy(), index=out.index, dtype=object
        )
    return out
