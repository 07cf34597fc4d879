"""The erasure suppression list: salted SHA-256 hashes of erased identifiers, never the values.

`python -m include.scoring forget` erases a person from the lake and the warehouse, but the
landing files and the CRM belong to others: a backfill would extract the person again. So every
erased identifier (normalised email, cookie, CRM contact id) is kept as
sha256(salt, kind, value) in `privacy/erasures/dt=<request day>/`, and extract drops the rows
that carry one of them, counting them as `erased` (landing rows = raw rows + erased).

The salt is random, made once per lake in `privacy/salt`: the hashes are useless outside this
lake, but anyone holding the lake can still test a candidate address (that is how extract
matches). `privacy/` is not derived data: keep it (back it up) when the lake is rebuilt.

Each row also carries its request's status (`in_progress` until forget has finished) and the
first day it recomputes, so a forget that was interrupted is completed by running it again.
"""

from __future__ import annotations

import hashlib
import logging
import posixpath
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
import pandas as pd
import pyarrow as pa

from include.scoring.core.normalize import normalize_email
from include.scoring.lake import catalog
from include.scoring.lake.store import Lake
from include.scoring.privacy.freetext import redact_table

log = logging.getLogger(__name__)

DATASET = catalog.ERASURES
EMAIL, COOKIE, CONTACT = "email", "anonymous_id", "contact_id"
SCHEMA = pa.schema(
    [
        ("request_id", pa.string()),
        ("kind", pa.string()),
        ("hash", pa.string()),
        ("added_at", pa.timestamp("us", tz="UTC")),
        ("status", pa.string()),
        ("first_day", pa.date32()),
    ]
)
#: identifier columns of each extracted source: (column, kind); emails are normalised first
COLUMNS = {
    "web": ((EMAIL, EMAIL), ("anonymous_id", COOKIE)),
    "email": ((EMAIL, EMAIL),),
    "ad": ((EMAIL, EMAIL), ("anonymous_id", COOKIE)),
    "crm/contacts": ((EMAIL, EMAIL), ("contact_id", CONTACT)),
    "crm/activities": (("contact_id", CONTACT),),
    # Segment identify/group calls: a userId is kept as the cookie-like identifier user:<userId>
    "calls/web": ((EMAIL, EMAIL), ("anonymous_id", COOKIE), ("user_id", COOKIE)),
}


def load_salt(lake: Lake, create: bool = False) -> bytes | None:
    """The lake's salt; made (random, 32 bytes) on first use when `create`."""
    path = lake.dataset_path(catalog.SALT)
    if not lake.fs.exists(path):
        if not create:
            return None
        tmp = f"{path}._tmp_{uuid.uuid4().hex[:8]}"
        lake.fs.makedirs(posixpath.dirname(path), exist_ok=True)
        with lake.fs.open(tmp, "wb") as fh:
            fh.write(secrets.token_hex(32).encode())
        if lake.fs.exists(path):  # another process made it first: keep theirs
            lake.fs.rm(tmp)
        else:
            lake.fs.mv(tmp, path)
    with lake.fs.open(path, "rb") as fh:
        return fh.read().strip()


def digest(salt: bytes, kind: str, value: str) -> str:
    return hashlib.sha256(salt + b"\x1f" + kind.encode() + b"\x1f" + value.encode("utf-8")).hexdigest()


def hash_values(values: pd.Series, kind: str, salt: bytes) -> pd.Series:
    """Hashes of a column, computed once per distinct value (nulls stay null)."""
    codes, uniques = pd.factorize(values.astype("string"))
    hashed = np.array([digest(salt, kind, str(v)) for v in uniques] + [None], dtype=object)
    return pd.Series(hashed[codes], index=values.index, dtype="string")


def identifier_values(table: pa.Table | pd.DataFrame, column: str, kind: str) -> pd.Series:
    """A source column as the pipeline compares it: emails normalised, other ids trimmed."""
    values = table.column(column).to_pandas() if isinstance(table, pa.Table) else table[column]
    values = values.astype("string")
    return normalize_email(values) if kind == EMAIL else values.str.strip()


@dataclass
class Suppression:
    """Every hash on the list, by kind, and the requests that have not finished."""

    salt: bytes | None
    hashes: dict[str, set[str]] = field(default_factory=dict)
    entries: pd.DataFrame | None = None

    @classmethod
    def load(cls, lake: Lake) -> Suppression:
        days = lake.days(DATASET)
        salt = load_salt(lake) if days else None
        if not days or salt is None:
            return cls(salt)
        entries = lake.read_range(DATASET, days[0], days[-1], add_day=True).to_pandas()
        hashes = {kind: set(group["hash"]) for kind, group in entries.groupby("kind")}
        return cls(salt, hashes, entries)

    @property
    def empty(self) -> bool:
        return not any(self.hashes.values())

    def mask(self, source: str, table: pa.Table) -> np.ndarray:
        """Rows of an extracted table that carry a suppressed identifier."""
        hit = np.zeros(table.num_rows, bool)
        if self.empty or not table.num_rows:
            return hit
        for column, kind in COLUMNS.get(source, ()):
            wanted = self.hashes.get(kind)
            if wanted and column in table.column_names:
                hashed = hash_values(identifier_values(table, column, kind), kind, self.salt)
                hit |= hashed.isin(wanted).to_numpy(dtype=bool, na_value=False)
        return hit

    def erased_email(self, form: str) -> bool:
        """Whether a normalised address is on the list."""
        return digest(self.salt, EMAIL, form) in self.hashes.get(EMAIL, ())

    def redact_free_text(self, table: pa.Table) -> tuple[pa.Table, int]:
        """Erased addresses in the text cells of `table` redacted (privacy.freetext); (table, cells)."""
        if not self.hashes.get(EMAIL) or not table.num_rows:
            return table, 0
        return redact_table(table, self.erased_email)

    def unfinished(self, email_hash: str) -> pd.DataFrame:
        """Entries of earlier requests for this email that did not finish (status in_progress)."""
        if self.entries is None:
            return pd.DataFrame(columns=[*SCHEMA.names, "dt"])
        requests = self.entries.loc[
            (self.entries["kind"] == EMAIL) & (self.entries["hash"] == email_hash), "request_id"
        ]
        rows = self.entries[self.entries["request_id"].isin(requests) & (self.entries["status"] == "in_progress")]
        return rows


def drop_suppressed(lake: Lake, source: str, table: pa.Table) -> tuple[pa.Table, int]:
    """Extract's filter: the rows of `table` without suppressed identifiers, and how many went;
    in the rows kept, erased addresses in free text (notes, URLs, parse errors) become [erased]."""
    suppression = Suppression.load(lake)
    hit = suppression.mask(source, table)
    if hit.any():
        table = table.filter(pa.array(~hit))
    table, cells = suppression.redact_free_text(table)
    if cells:
        log.info("%s: %d text cell(s) held an erased address: [erased]", source, cells)
    return table, int(hit.sum())


def add_entries(lake: Lake, request_id: str, hashes: dict[str, set[str]], at: datetime, first_day: date | None) -> int:
    """Record a request's hashes (those not on the list yet) as in_progress; returns how many."""
    current = Suppression.load(lake)
    rows = [
        {
            "request_id": request_id,
            "kind": kind,
            "hash": h,
            "added_at": at,
            "status": "in_progress",
            "first_day": first_day,
        }
        for kind in sorted(hashes)
        for h in sorted(hashes[kind] - current.hashes.get(kind, set()))
    ]
    if rows:
        _append(lake, at.date(), pd.DataFrame(rows, columns=SCHEMA.names))
    return len(rows)


def finish_requests(lake: Lake, request_ids: set[str]) -> None:
    """Mark every entry of these requests done (rewrites only the partitions holding them)."""
    for day in lake.days(DATASET):
        frame = lake.read_df(DATASET, day)
        mine = frame["request_id"].isin(request_ids) & (frame["status"] != "done")
        if mine.any():
            frame.loc[mine, "status"] = "done"
            lake.write_partition(DATASET, day, frame, schema=SCHEMA)


def _append(lake: Lake, day: date, rows: pd.DataFrame) -> None:
    existing = lake.read_df(DATASET, day, missing_ok=True)
    frame = rows if existing is None else pd.concat([existing, rows], ignore_index=True)
    lake.write_partition(DATASET, day, frame, schema=SCHEMA)
