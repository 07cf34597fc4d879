"""What the resolve stage reads, shard by shard: events, CRM activity events, deliveries, and the
normalised identifiers of each; and the day's reference tables (`load_reference`, once per run).

An event belongs to shard `hash(key) % shards`, where the key is its normalised email, else its
cookie, else its id: the clicks and deliveries of one address land in the same shard (the scanner
rule compares them), and every shard can be read one row group at a time, so memory follows the
shard, not the day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from include.scoring.core.arrowops import isin, take_at, to_arrow, to_series
from include.scoring.core.config import ScoringConfig
from include.scoring.core.hashing import hash_ids
from include.scoring.core.normalize import (
    email_domain,
    email_domain_array,
    matches,
    normalize_company_name,
    normalize_email,
    normalize_email_array,
    registrable_domain,
)
from include.scoring.core.sources import SHIPPED_FREE_MAIL
from include.scoring.lake import catalog
from include.scoring.lake.sharding import shard_of
from include.scoring.lake.store import Lake
from include.scoring.resolve.graph import CONTACT, EMAIL, node
from include.scoring.resolve.iplookup import match_ip_ranges
from include.scoring.resolve.rules import Reference, build_reference

UNIFIED = [
    "event_id",
    "source",
    "event_time",
    "event_type",
    "email",
    "anonymous_id",
    "ip",
    "url",
    "form_type",
    "campaign_id",
    "user_agent",
    "company_domain",
    "company_name",
    "platform",
    "crm_contact_id",
    "crm_account_id",
]
MISSING = {
    "web": ["campaign_id", "company_domain", "company_name", "platform"],
    "email": ["anonymous_id", "form_type", "company_domain", "company_name", "platform"],
    "ad": ["url", "form_type", "user_agent"],
}


def utc(day: date) -> pd.Timestamp:
    return pd.Timestamp(datetime.combine(day, time(0), tzinfo=UTC))


def event_shard_keys(batch: pa.Table | pd.DataFrame) -> pd.Series:
    """The shard key of events: normalised email, else cookie, else event id."""
    frame = batch.to_pandas() if isinstance(batch, pa.Table) else batch
    key = frame["event_id"].astype("string")
    if "anonymous_id" in frame.columns:
        key = frame["anonymous_id"].astype("string").str.strip().fillna(key)
    if "email" in frame.columns:
        key = normalize_email(frame["email"]).fillna(key)
    return key


def _keep(shard: int, shards: int):
    def keep(batch: pa.Table) -> np.ndarray:
        return shard_of(event_shard_keys(batch), shards) == shard

    return keep


def read_events(lake: Lake, day: date, shard: int = 0, shards: int = 1) -> list[pd.DataFrame]:
    """The valid web, email and ad events of a shard, in the unified columns."""
    keep = None if shards == 1 else _keep(shard, shards)
    out = []
    for source in ("web", "email", "ad"):
        columns = [
            c for c in UNIFIED if c not in MISSING[source] and c not in ("source", "crm_contact_id", "crm_account_id")
        ]
        table = (
            lake.read(catalog.valid(source), day, columns)
            if keep is None
            else lake.read_where(catalog.valid(source), day, keep, columns)
        )
        out.append(unified(table.to_pandas(), source))
    return out


def unified(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """`frame` in the UNIFIED columns, absent ones as empty text: one text dtype throughout, so the
    sources concatenate without falling back to Python objects (which doubles the memory)."""
    out = pd.DataFrame(index=frame.index)
    for column in UNIFIED:
        if column == "source":
            out[column] = pd.Series(source, index=frame.index, dtype="str")
        elif column in frame.columns:
            out[column] = frame[column]
        else:
            out[column] = pd.Series(None, index=frame.index, dtype="str")
    return out


def crm_events(
    lake: Lake, config: ScoringConfig, day: date, shard: int = 0, shards: int = 1
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Activities of the late-arrival window not emitted on an earlier day; and the re-emitted ones."""
    acts = lake.read_df(catalog.valid("crm/activities"), day)
    lookback = config.validation.late_arrival_days
    window = (acts["occurred_at"] >= utc(day - timedelta(days=lookback))) & (
        acts["occurred_at"] < utc(day + timedelta(days=1))
    )
    acts = acts[window].reset_index(drop=True)
    if shards > 1:
        acts = acts[shard_of(acts["activity_id"], shards) == shard].reset_index(drop=True)
    earlier = (
        lake.read_range(
            catalog.event_ids("crm"), day - timedelta(days=lookback), day - timedelta(days=1), columns=["h"]
        )
        if lookback
        else None
    )
    seen = (
        np.isin(hash_ids(acts["activity_id"]), earlier.column("h").to_numpy())
        if earlier is not None
        else np.zeros(len(acts), bool)
    )
    frame = crm_activity_events(acts)
    return frame[~seen], frame[seen]


def crm_activity_events(acts: pd.DataFrame) -> pd.DataFrame:
    """CRM activity rows as unified events of the source `crm`."""
    return unified(
        pd.DataFrame(
            {
                "event_id": acts["activity_id"],
                "event_time": acts["occurred_at"],
                "event_type": acts["activity_type"],
                "crm_contact_id": acts["contact_id"],
                "crm_account_id": acts["account_id"],
            }
        ),
        "crm",
    )


def _before_window(lake: Lake, dataset, day: date, lookback: int, shard: int, shards: int) -> pd.DataFrame:
    """Activities of D's snapshot (`dataset`: valid or quarantine) first seen on D that occurred before
    the late-arrival window (on the first snapshot, older activities are history: none)."""
    previous = lake.read(catalog.valid("crm/activities"), day - timedelta(days=1), ["activity_id"], missing_ok=True)
    if previous is None:
        previous = lake.read(catalog.raw("crm/activities"), day - timedelta(days=1), ["activity_id"], missing_ok=True)
    acts = lake.read_df(dataset, day, missing_ok=True)
    if previous is None or acts is None:
        return pd.DataFrame(columns=["activity_id", "occurred_at", "activity_type", "contact_id", "account_id"])
    old = acts[(acts["occurred_at"] < utc(day - timedelta(days=lookback))).fillna(False).to_numpy(dtype=bool)]
    old = old[~isin(old["activity_id"], previous.column("activity_id").to_pandas())]
    if shards > 1:
        old = old[shard_of(old["activity_id"], shards) == shard]
    return old.reset_index(drop=True)


def late_crm_events(lake: Lake, config: ScoringConfig, day: date, shard: int = 0, shards: int = 1) -> pd.DataFrame:
    """Valid activities first seen on D that occurred before the late-arrival window: too late to
    score (their day is published), so they are filtered as `late_arrival`, one outcome each."""
    lookback = config.validation.late_arrival_days
    acts = _before_window(lake, catalog.valid("crm/activities"), day, lookback, shard, shards)
    return crm_activity_events(acts)


def crm_ledger_counts(lake: Lake, config: ScoringConfig, day: date) -> tuple[int, int]:
    """(activity events of D from the valid snapshot, activities of D quarantined): what entered the
    day, counted from the lake independently of resolve's outcomes (the CRM ledger's raw side)."""
    fresh, repeats = crm_events(lake, config, day)
    late = late_crm_events(lake, config, day)
    lookback = config.validation.late_arrival_days
    bad = lake.read_df(catalog.quarantine("crm/activities"), day, missing_ok=True)
    quarantined = 0
    if bad is not None and len(bad):
        times = bad["occurred_at"]
        window = (times >= utc(day - timedelta(days=lookback))) & (times < utc(day + timedelta(days=1)))
        too_late = _before_window(lake, catalog.quarantine("crm/activities"), day, lookback, 0, 1)
        quarantined = int(window.fillna(False).sum()) + len(too_late)
    return len(fresh) + len(repeats) + len(late), quarantined


def deliveries(lake: Lake, day: date, today: pd.DataFrame, shard: int = 0, shards: int = 1) -> pd.DataFrame:
    """Delivered emails of D (from `today`) and D-1 (a click after midnight belongs to yesterday's send)."""
    cols = ["email_norm", "campaign_id", "event_type", "event_time"]
    current = today.loc[today["source"] == "email", cols]
    keep = None if shards == 1 else _keep(shard, shards)
    columns = ["event_id", "email", "campaign_id", "event_type", "event_time"]
    prev_day = day - timedelta(days=1)
    table = (
        lake.read(catalog.valid("email"), prev_day, columns, missing_ok=True)
        if keep is None
        else lake.read_where(catalog.valid("email"), prev_day, keep, columns, missing_ok=True)
    )
    if table is None or table.num_rows == 0:
        return current
    prev = table.to_pandas()
    prev = prev[prev["event_type"] == "delivered"]
    prev = prev.assign(email_norm=normalize_email(prev["email"]))[cols]
    return pd.concat([current, prev], ignore_index=True)


def free_domains(lake: Lake, config: ScoringConfig, day: date) -> set[str]:
    table = lake.read(catalog.FREE_EMAIL_DOMAINS, day, missing_ok=True)
    domains = table.column("domain").to_pylist() if table is not None else SHIPPED_FREE_MAIL.read_text().split()
    return {d.strip().lower() for d in domains if d} | {d.lower() for d in config.identity.extra_free_email_domains}


def ip_ranges(lake: Lake, day: date) -> pd.DataFrame:
    ranges = lake.read_df(catalog.IP_RANGES, day, missing_ok=True)
    return ranges if ranges is not None else pd.DataFrame(columns=["cidr", "company_domain", "company_name", "kind"])


def blocked(values: pd.Series, kind: str, config: ScoringConfig) -> pd.Series:
    """Placeholder identifiers (test@, noreply@, `abc123`-style cookies) that never link nor resolve."""
    return pd.Series(_placeholder_mask(to_arrow(values), kind, config), index=values.index)


def _placeholder_mask(values: pa.Array, kind: str, config: ScoringConfig) -> np.ndarray:
    """`blocked` on an Arrow array of normalised emails (`kind` email) or trimmed cookies."""
    ident = config.identity
    if kind == "email":
        local = pc.replace_substring_regex(values, pattern=r"@.*$", replacement="")
        domain = email_domain_array(values)
        locals_ = {x.lower() for x in ident.blocked_email_local_parts}
        domains = {x.lower() for x in ident.blocked_email_domains}
        return isin(local, locals_) | isin(domain, domains)
    mask = np.zeros(len(values), bool)
    for pattern in ident.blocked_anonymous_ids:
        mask |= matches(values, f"^(?:{pattern})$", case=True)
    return mask


def crm_contact_edges(contacts: pd.DataFrame, config: ScoringConfig) -> pd.DataFrame:
    """Contact id - email edges of the CRM's contacts; a placeholder email links nothing (SPEC 4.2)."""
    email_norm = contacts["email_norm"]  # the reference's contacts, already normalised
    ok = email_norm.notna() & contacts["contact_id"].notna() & ~blocked(email_norm, "email", config)
    return pd.DataFrame({"a": node(CONTACT, contacts.loc[ok, "contact_id"]), "b": node(EMAIL, email_norm[ok])})


def identifiers(frame: pd.DataFrame, config: ScoringConfig) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series]:
    """Normalised email and cookie (placeholders removed), and which were placeholders."""
    email_norm, bad_email = _usable_and_placeholders(frame["email"], normalize_email_array, "email", config)
    anon, bad_anon = _usable_and_placeholders(frame["anonymous_id"], pc.utf8_trim_whitespace, "cookie", config)
    return email_norm, anon, bad_email, bad_anon


def _usable_and_placeholders(values: pd.Series, normalise, kind: str, config: ScoringConfig):
    """Each value normalised, as (usable, placeholder): one null where the other is set. Worked out
    on the distinct values (a day repeats its emails and cookies) and taken back to the rows."""
    encoded = pc.dictionary_encode(to_arrow(values))
    norm = normalise(encoded.dictionary)
    bad = pa.array(_placeholder_mask(norm, kind, config))
    null = pa.scalar(None, norm.type)
    usable = pc.if_else(bad, null, norm).take(encoded.indices)
    placeholder = pc.if_else(bad, norm, null).take(encoded.indices)
    return to_series(usable, values.index), to_series(placeholder, values.index)


def normalise_events(events: pd.DataFrame, config: ScoringConfig, ranges: pd.DataFrame) -> pd.DataFrame:
    """The unified events with normalised identifiers, domains, company names and IP ranges."""
    ev = events.reset_index(drop=True)
    ev["event_time"] = pd.to_datetime(ev["event_time"], utc=True)
    ev["email_norm"], ev["anonymous_id"], _, _ = identifiers(ev, config)
    ev["email_reg_domain"] = registrable_domain(email_domain(ev["email_norm"]))
    ev["company_reg_domain"] = registrable_domain(ev["company_domain"])
    ev["company_name_norm"] = normalize_company_name(ev["company_name"])
    ev["ip_range_row"] = match_ip_ranges(ev["ip"], ranges).to_numpy()
    ev["ip_kind"] = take_at(ranges["kind"], ev["ip_range_row"].to_numpy(), ev.index)
    return ev


#: the CRM columns the reference tables are built from (the rest of the snapshot is not read)
REFERENCE_COLUMNS = {
    "crm/accounts": ["account_id", "name", "domain", "alt_domains", "parent_account_id"],
    "crm/contacts": ["contact_id", "account_id", "email", "role"],
}


def load_reference(lake: Lake, config: ScoringConfig, day: date, for_prepare: bool = False) -> Reference:
    """D's CRM reference tables (contact email, domain and name -> account, IP ranges): about a
    tenth of a large day's resolve, so a run builds them once and hands them to every step.
    `for_prepare`: also the CRM's contact links and contacts by id, which prepare needs (a
    whole-day run loads the reference on its helper thread, so prepare finds them built)."""
    accounts = lake.read_df(catalog.valid("crm/accounts"), day, columns=REFERENCE_COLUMNS["crm/accounts"])
    contacts = lake.read_df(catalog.valid("crm/contacts"), day, columns=REFERENCE_COLUMNS["crm/contacts"])
    ref = build_reference(accounts, contacts, ip_ranges(lake, day), free_domains(lake, config, day))
    if for_prepare:
        ref.contact_edges = crm_contact_edges(ref.contacts, config)
        ref.contact_by_id  # noqa: B018 - a cached property: built here, read by prepare
    return ref
