"""Right to erasure in the lake: find a person, and every row and file that holds them.

The person is found the way the pipeline links people (SPEC section 4.2): the normalised
address's node in the person graph of the latest identity/ snapshot, with the same cardinality
rule, and its connected component: the emails, cookies and CRM contact ids linked to it, plus the
CRM contacts carrying one of those emails (also rows that failed validation). A cookie the rule
refused to link (a shared device) is not part of the person, so its other events stay.

What holds the person, and what happens to it:

  raw|valid|quarantine/<web,email,ad>,        rows carrying one of the identifiers are removed; the
  raw|valid|quarantine/crm/contacts|activities address or an id in any other text cell (a URL, a
                                              note) becomes [erased]
  event_ids/<source>                          rebuilt from the new valid partition
  validation/<source>                         examples in the check table and side files redacted
  identity                                    edges touching the person's nodes removed
  identity_map, identity_rules, event_ids/crm, derived from the above: found here (counted, and the
  resolved, unresolved, filtered, resolution, first day that holds them), then recomputed by the
  contributions, scores, changes, state*, ... pipeline's own resolve and score (include/scoring/privacy/forget.py)

`scan` reads the lake and counts (a dry run stops there); `apply` (privacy/redaction.py) rewrites
the partitions the scan found, each atomically with the lake's writers, identity last, so a forget
interrupted half way finds the person again when run a second time. Rows are matched with Arrow
kernels and set lookups: no Python loop over rows. The matching lives here, and redaction reuses
it, so what the scan counts is exactly what apply rewrites.
"""

from __future__ import annotations

import logging
import posixpath
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from include.scoring.core.arrowops import isin
from include.scoring.core.config import ScoringConfig
from include.scoring.core.errors import LakeError
from include.scoring.core.hashing import hash_ids
from include.scoring.core.sources import EVENT_SOURCES
from include.scoring.lake import catalog
from include.scoring.lake.catalog import Dataset, Personal
from include.scoring.lake.store import DATA_FILE, Lake
from include.scoring.privacy.freetext import address_forms
from include.scoring.privacy.suppression import COLUMNS, digest, identifier_values
from include.scoring.privacy.suppression import CONTACT as K_CONTACT
from include.scoring.privacy.suppression import COOKIE as K_COOKIE
from include.scoring.privacy.suppression import EMAIL as K_EMAIL
from include.scoring.resolve.graph import CONTACT, COOKIE, EMAIL, build_graph, person_key

log = logging.getLogger(__name__)
_SPECIAL = re.compile(r"([\\.^$|?*+()\[\]{}-])")
MIN_TEXT_TOKEN = 4  # shorter cookie or contact ids are not searched for in free text


def _escape(text: str) -> str:
    """Escape for both RE2 (Arrow) and Python's re."""
    return _SPECIAL.sub(r"\\\1", text)


@dataclass
class Person:
    """Everything that identifies one person, as the pipeline compares it (normalised)."""

    email: str
    emails: set[str] = field(default_factory=set)
    cookies: set[str] = field(default_factory=set)
    contacts: set[str] = field(default_factory=set)
    keys: set[str] = field(default_factory=set)  # person keys the pipeline gave them

    def values(self, kind: str) -> set[str]:
        return {K_EMAIL: self.emails, K_COOKIE: self.cookies, K_CONTACT: self.contacts}[kind]

    def nodes(self) -> set[str]:
        return (
            {f"{EMAIL}:{v}" for v in self.emails}
            | {f"{COOKIE}:{v}" for v in self.cookies}
            | {f"{CONTACT}:{v}" for v in self.contacts}
        )

    def identifiers(self) -> set[str]:
        return self.emails | self.cookies | self.contacts

    def hashes(self, salt: bytes) -> dict[str, set[str]]:
        return {kind: {digest(salt, kind, v) for v in self.values(kind)} for kind in (K_EMAIL, K_COOKIE, K_CONTACT)}

    def describe(self) -> str:
        return f"{len(self.emails)} email(s), {len(self.cookies)} cookie(s), {len(self.contacts)} CRM contact(s)"

    def pattern(self) -> str:
        """A regular expression of the identifiers in free text, with word boundaries: group 1
        and 3 are the characters around the match, group 2 the identifier."""
        alts = []
        for form in sorted({f for email in self.emails for f in address_forms(email)}):  # IDN twins too
            local, _, domain = form.partition("@")
            alts.append(rf"{_escape(local)}(?:(?:\+|%2B)[^@\s]*)?(?:@|%40){_escape(domain)}")
        alts += [_escape(v) for v in sorted(self.cookies | self.contacts) if len(v) >= MIN_TEXT_TOKEN]
        return r"(?i)(^|[^a-z0-9._%+-])(" + "|".join(alts) + r")(\.?(?:$|[^a-z0-9_.-]))"


# Finding the person ------------------------------------------------------------------------------
def _contact_index(lake: Lake) -> pd.DataFrame:
    """Distinct (contact_id, normalised email) of every CRM contacts snapshot, valid or not."""
    parts = []
    for dataset in (catalog.raw("crm/contacts"), catalog.valid("crm/contacts"), catalog.quarantine("crm/contacts")):
        for day in lake.days(dataset):
            table = lake.read(dataset, day, columns=["contact_id", "email"])
            parts.append(
                pd.DataFrame(
                    {
                        "contact_id": identifier_values(table, "contact_id", K_CONTACT),
                        "email": identifier_values(table, "email", K_EMAIL),
                    }
                ).drop_duplicates()
            )
    if not parts:
        return pd.DataFrame({"contact_id": pd.Series(dtype="string"), "email": pd.Series(dtype="string")})
    return pd.concat(parts, ignore_index=True).drop_duplicates()


def _graph_components(lake: Lake, config: ScoringConfig) -> pd.Series:
    """node -> person key of the latest person graph (nodes in a linked component only)."""
    days = lake.days(catalog.IDENTITY)
    if not days:
        return pd.Series(dtype="string")
    edges = lake.read_df(catalog.IDENTITY, days[-1])
    none = pd.DataFrame({"a": pd.Series(dtype="string"), "b": pd.Series(dtype="string")})
    return build_graph(edges, none, days[-1], config.identity.max_emails_per_cookie).person_of


def find_person(lake: Lake, config: ScoringConfig, email: str) -> Person:
    """The person of a normalised address: its graph component and its CRM contacts."""
    person = Person(email, {email})
    person_of = _graph_components(lake, config)
    contacts = _contact_index(lake)
    while True:
        size = (len(person.emails), len(person.cookies), len(person.contacts))
        person.contacts |= set(contacts.loc[isin(contacts["email"], person.emails), "contact_id"].dropna())
        person.emails |= set(contacts.loc[isin(contacts["contact_id"], person.contacts), "email"].dropna())
        keys = set(person_of[isin(person_of.index.to_series(), person.nodes())].dropna())
        for node in person_of.index[isin(person_of, keys)]:
            rank, value = node.split(":", 1)
            {EMAIL: person.emails, COOKIE: person.cookies, CONTACT: person.contacts}[rank].add(value)
        if (len(person.emails), len(person.cookies), len(person.contacts)) == size:
            break
    nodes = pd.Series(sorted(person.nodes()), dtype="string")
    person.keys = set(person_key(nodes).dropna()) | set(
        person_of[isin(person_of.index.to_series(), person.nodes())].dropna()
    )
    return person


# Matching rows -------------------------------------------------------------------------------------
def _regex(column: pa.ChunkedArray, pattern: str) -> np.ndarray:
    if not pa.types.is_string(column.type) and not pa.types.is_large_string(column.type):
        return np.zeros(len(column), bool)
    return np.asarray(
        pc.fill_null(pc.match_substring_regex(column, pattern), False).to_numpy(zero_copy_only=False), dtype=bool
    )


def _text_columns(table: pa.Table) -> list[str]:
    return [f.name for f in table.schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]


def text_hits(
    table: pa.Table, pattern: str, skip: tuple[str, ...] = (), rows: np.ndarray | None = None
) -> Iterator[tuple[str, np.ndarray]]:
    """(column, hit rows) of each text column (but `skip`) with a cell of `rows` (default all) holding
    an identifier: shared by the scan's count and redaction, so the two cannot disagree."""
    for name in _text_columns(table):
        if name in skip:
            continue
        hits = _regex(table.column(name), pattern)
        if rows is not None:
            hits &= rows
        if hits.any():
            yield name, hits


def _cells(table: pa.Table, pattern: str, skip: tuple[str, ...] = (), rows: np.ndarray | None = None) -> int:
    """How many text cells redaction would change (the scan only counts)."""
    return sum(int(hits.sum()) for _, hits in text_hits(table, pattern, skip, rows))


def source_rows(table: pa.Table, source: str, person: Person, pattern: str) -> np.ndarray:
    """Rows of a source table (raw, valid or quarantine) that belong to the person: an identifier
    column matches, or the text of an unreadable line holds the address."""
    drop = np.zeros(table.num_rows, bool)
    for column, kind in COLUMNS[source]:
        if column in table.column_names:
            drop |= isin(identifier_values(table, column, kind), person.values(kind))
            if kind == K_EMAIL:
                drop |= _regex(table.column(column), pattern)  # an address the normaliser rejects
    if "coercion_errors" in table.column_names:
        drop |= _regex(table.column("coercion_errors"), pattern)
    return drop


def side_files(lake: Lake, dataset: Dataset, day: date) -> list[tuple[str, str]]:
    """(name, text) of the files beside a single-file partition's data file: validation writes
    examples there, so they are searched and redacted too."""
    folder = lake.current_folder(dataset, day)
    out = []
    for path in sorted(lake.fs.find(folder)):
        name = posixpath.relpath(path, folder)
        if name != DATA_FILE and not name.endswith(".parquet"):
            with lake.fs.open(path, "rb") as fh:
                out.append((name, fh.read().decode("utf-8", errors="surrogateescape")))
    return out


# The scan ------------------------------------------------------------------------------------------
@dataclass
class Plan:
    person: Person
    pattern: str
    removed: Counter = field(default_factory=Counter)  # dataset -> rows holding the person
    redacted: Counter = field(default_factory=Counter)  # dataset -> text cells or files redacted
    rewrite: set[tuple[Dataset, date]] = field(default_factory=set)  # partitions apply rewrites
    event_ids: dict[str, set[str]] = field(default_factory=dict)  # source -> the person's event ids
    source_days: set[date] = field(default_factory=set)  # days whose source data changes
    derived_days: set[date] = field(default_factory=set)  # days whose derived data held the person
    accounts: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)

    @property
    def first_day(self) -> date | None:
        """The first day resolve and score must recompute (None: nothing derived held them)."""
        return min(self.derived_days) if self.derived_days else None

    @property
    def found(self) -> int:
        return sum(self.removed.values()) + sum(self.redacted.values())


def _count(plan: Plan, dataset: Dataset, removed: int = 0, redacted: int = 0) -> bool:
    plan.removed[dataset.name] += removed
    plan.redacted[dataset.name] += redacted
    return bool(removed or redacted)


def _scan_sources(lake: Lake, plan: Plan) -> None:
    """The catalog's datasets of people's rows (raw, valid, quarantine of the person sources)."""
    for dataset in catalog.with_personal(Personal.ROWS):
        source = dataset.source
        ids = plan.event_ids.setdefault("crm" if source == "crm/activities" else source, set())
        for day in lake.days(dataset):
            table = lake.read(dataset, day)
            drop = source_rows(table, source, plan.person, plan.pattern)
            cells = _cells(table, plan.pattern, tuple(c for c, _ in COLUMNS[source]), rows=~drop)
            if not _count(plan, dataset, int(drop.sum()), cells):
                continue
            plan.rewrite.add((dataset, day))
            plan.source_days.add(day)
            id_column = "activity_id" if source == "crm/activities" else "event_id" if source in EVENT_SOURCES else None
            if id_column:
                ids |= set(table.column(id_column).filter(pa.array(drop)).drop_null().to_pylist())
            if source in EVENT_SOURCES and dataset is catalog.valid(source):
                plan.derived_days.add(day)
                plan.removed[catalog.event_ids(source).name] += int(drop.sum())
            if dataset is catalog.valid("crm/contacts"):
                plan.accounts |= set(table.column("account_id").filter(pa.array(drop)).drop_null().to_pylist())


def _scan_text(lake: Lake, plan: Plan) -> None:
    """The catalog's free-text datasets (validation check tables and their side files)."""
    for dataset in catalog.with_personal(Personal.TEXT):
        for day in lake.days(dataset):
            cells = _cells(lake.read(dataset, day), plan.pattern)
            files = sum(1 for _, text in side_files(lake, dataset, day) if re.search(plan.pattern, text))
            if _count(plan, dataset, redacted=cells + files):
                plan.rewrite.add((dataset, day))


def _scan_derived(lake: Lake, plan: Plan) -> None:
    """The catalog's derived datasets: count the person's rows and note the days (resolve and
    score recompute them). How the person is found depends on what a dataset holds: identifier
    nodes first (they give the person's keys), then identifiers, CRM activity id hashes, events
    by (source, event id), person keys. A derived dataset holding none of those cannot be
    searched, and fails here rather than keep a person it was meant to forget."""
    derived = catalog.with_personal(Personal.DERIVED)
    nodes = plan.person.nodes()
    for dataset in [d for d in derived if "node" in d.columns]:
        for day in lake.days(dataset):
            frame = lake.read_df(dataset, day, columns=[c for c in ("node", "person_key") if c in dataset.columns])
            hit = isin(frame["node"], nodes)
            if "person_key" in frame.columns:  # identity_groups holds identifiers only
                plan.person.keys |= set(frame.loc[hit, "person_key"].dropna())
            if _count(plan, dataset, int(hit.sum())):
                plan.derived_days.add(day)
    activity_hashes = hash_ids(pd.Series(sorted(plan.event_ids.get("crm", set())), dtype="string"))
    keys = pd.DataFrame([(s, i) for s, ids in plan.event_ids.items() for i in ids], columns=["source", "event_id"])
    wanted = pd.Index(keys["source"] + "\x1f" + keys["event_id"]) if len(keys) else pd.Index([])
    for dataset in [d for d in derived if "node" not in d.columns]:
        for day in lake.days(dataset):
            if "identifier" in dataset.columns:
                hit = isin(lake.read_df(dataset, day, columns=["identifier"])["identifier"], plan.person.identifiers())
            elif dataset.columns == ("h",):
                hit = np.isin(lake.read(dataset, day).column("h").to_numpy(), activity_hashes)
            elif "event_id" in dataset.columns:
                table = lake.read(dataset, day)
                frame = table.select([c for c in ("source", "event_id", "account_id") if c in table.column_names])
                frame = frame.to_pandas()
                joined = frame["source"].astype("string") + "\x1f" + frame["event_id"].astype("string")
                hit = joined.isin(wanted).to_numpy(dtype=bool, na_value=False)
                if hit.any() and "account_id" in frame.columns:
                    plan.accounts |= set(frame.loc[hit, "account_id"].dropna())
            elif "person_key" in dataset.columns:
                hit = isin(lake.read_df(dataset, day, columns=["person_key"])["person_key"], plan.person.keys)
            else:
                raise LakeError(
                    f"the lake catalog marks {dataset.name} as derived personal data, but erasure has no way to find "
                    f"a person in its columns {dataset.columns}; teach privacy/search.py how, or mark it otherwise"
                )
            if _count(plan, dataset, int(np.sum(hit))):
                plan.derived_days.add(day)


def _scan_identity(lake: Lake, plan: Plan) -> None:
    """The catalog's person graphs: edges touching the person's identifiers."""
    nodes = plan.person.nodes()
    for dataset in catalog.with_personal(Personal.GRAPH):
        for day in lake.days(dataset):
            edges = lake.read_df(dataset, day, columns=["a", "b"])
            if _count(plan, dataset, int((isin(edges["a"], nodes) | isin(edges["b"], nodes)).sum())):
                plan.rewrite.add((dataset, day))


def _staff_note(lake: Lake, plan: Plan) -> None:
    """The address as an account owner or SDR (our own staff, not a tracked person): a note only."""
    days = lake.days(catalog.valid("crm/accounts"))
    if not days:
        return
    accounts = lake.read(catalog.valid("crm/accounts"), days[-1], columns=["account_id", "owner_email", "sdr_email"])
    staff = isin(identifier_values(accounts, "owner_email", K_EMAIL), plan.person.emails) | isin(
        identifier_values(accounts, "sdr_email", K_EMAIL), plan.person.emails
    )
    if staff.any():
        plan.notes.append(
            f"the address is also the owner or SDR of {int(staff.sum())} CRM account(s): "
            "that is company data, not erased here; "
            "reassign the accounts in the CRM if the person has left"
        )


def scan(lake: Lake, config: ScoringConfig, email: str) -> Plan:
    """Find the person and count every row and file of the lake that holds them (reads only)."""
    person = find_person(lake, config, email)
    plan = Plan(person, person.pattern())
    _scan_sources(lake, plan)
    _scan_text(lake, plan)
    _scan_derived(lake, plan)
    _scan_identity(lake, plan)
    _staff_note(lake, plan)
    log.info(
        "forget: %s; %s row(s) and %s text cell(s) or file(s) hold them",
        person.describe(),
        sum(plan.removed.values()),
        sum(plan.redacted.values()),
    )
    return plan
