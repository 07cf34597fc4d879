"""Who is behind an account's score, read from the lake for the account page: the CRM contacts
(name, title, role) of the persons in its explanation, and its last 14 days' contributions.

The warehouse keeps persons as keys (`p2734869205619377082`). A person with a CRM contact has,
by construction, the key of that contact's node (the smallest node of its identity component,
include/scoring/resolve/graph.py), so the account's contacts in the CRM snapshot of the day
give every known person's name without reading the identity graph. Anyone else is an anonymous
visitor, shown with their number of web visits in the window. Reads are bounded: one account's
rows of at most 14 contribution partitions and of one contacts partition.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from include.scoring.lake import catalog
from include.scoring.resolve.graph import CONTACT, node, person_key

ACTIVITY_DAYS = 14
MAX_ACTIVITY_ROWS = 60
CONTACTS = catalog.valid("crm/contacts")


@dataclass(frozen=True)
class Person:
    key: str
    name: str
    title: str
    role: str
    visits: int
    known: bool

    @property
    def label(self) -> str:
        """The contact's name, else `anonymous visitor, N visits` (web visits in the window)."""
        if self.known:
            return self.name
        if not self.visits:
            return "anonymous visitor"
        return f"anonymous visitor, {self.visits} visit{'s' if self.visits != 1 else ''}"


@dataclass(frozen=True)
class Contribution:
    time: datetime
    person: Person | None
    signal: str
    points: float
    role: str


@dataclass
class AccountPeople:
    persons: dict[str, Person]
    activity: list[Contribution]
    days: int
    note: str = ""

    def person(self, key: str) -> Person | None:
        return self.persons.get(key)


def _of_account(account_id: str):
    def keep(batch: pa.Table) -> np.ndarray:
        return pc.fill_null(pc.equal(batch["account_id"], account_id), False).to_numpy(zero_copy_only=False)

    return keep


def _contacts(lake: Any, account_id: str, as_of: date) -> pd.DataFrame:
    days = [d for d in lake.days(CONTACTS) if d <= as_of]
    columns = ["contact_id", "account_id", "first_name", "last_name", "title", "role"]
    if not days:
        return pd.DataFrame(columns=columns)
    table = lake.read_where(CONTACTS, days[-1], _of_account(account_id), columns, missing_ok=True)
    return pd.DataFrame(columns=columns) if table is None else table.to_pandas()


def _text(values: pd.Series) -> pd.Series:
    return values.astype("string").fillna("").str.strip()


def account_people(
    lake: Any, account_id: str, as_of: date, keys: list[str], days: int = ACTIVITY_DAYS
) -> AccountPeople:
    """The persons named by `keys` and those in the account's contributions of the `days` days up
    to `as_of`, and those contributions with points (newest first)."""
    columns = ["event_time", "source", "account_id", "person_key", "signal", "points", "role"]
    table = lake.read_range(
        catalog.CONTRIBUTIONS, as_of - timedelta(days=days - 1), as_of, columns, keep=_of_account(account_id)
    )
    rows = pd.DataFrame(columns=columns) if table is None else table.to_pandas()
    contacts = _contacts(lake, account_id, as_of)
    contacts["person_key"] = person_key(node(CONTACT, contacts["contact_id"]))
    contacts["name"] = (_text(contacts["first_name"]) + " " + _text(contacts["last_name"])).str.strip()
    contacts = contacts.drop_duplicates("person_key").set_index("person_key")
    visits = rows.loc[rows["source"] == "web"].groupby("person_key").size()
    wanted = pd.Index(pd.unique(pd.Series([*keys, *rows["person_key"].dropna()], dtype="string"))).dropna()
    known = wanted.isin(contacts.index)
    named = contacts.reindex(wanted)
    counts = visits.reindex(wanted).fillna(0).astype(int)
    persons = {
        str(key): Person(
            key=str(key),
            name=str(name) if is_known and name else str(key),
            title=str(title) if is_known else "",
            role=str(role) if is_known else "",
            visits=int(count),
            known=bool(is_known),
        )
        for key, name, title, role, count, is_known in zip(
            wanted,
            _text(named["name"]),
            _text(named["title"]),
            _text(named["role"]),
            counts,
            known,
            strict=True,
        )
    }
    scored = rows.loc[rows["points"].fillna(0) != 0].sort_values("event_time", ascending=False)
    scored = scored.head(MAX_ACTIVITY_ROWS)
    activity = [
        Contribution(
            time=time,
            person=persons.get(str(key)) if isinstance(key, str) else None,
            signal=str(signal),
            points=float(points),
            role=str(role) if isinstance(role, str) else "",
        )
        for time, key, signal, points, role in zip(
            scored["event_time"], scored["person_key"], scored["signal"], scored["points"], scored["role"], strict=True
        )
    ]
    return AccountPeople(persons, activity, days)
