"""Resolve for day D: every valid event to an account and a person, or a recorded reason.

Reads valid/<source>/dt=D (and the CRM activities of the late-arrival window), the reference data
and the person graph as of D-1; writes resolved/, unresolved/, filtered/ (SPEC section 7), the
graph snapshot identity/dt=D, identity rule firings identity_rules/dt=D and per-day metrics
resolution/dt=D. Conservation: valid events = resolved + unresolved + filtered.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from include.scoring.arrowops import isin
from include.scoring.config import ScoringConfig
from include.scoring.identity_graph import (
    CONTACT,
    COOKIE,
    EMAIL,
    build_graph,
    node,
    persons_of,
    previous_edges,
    rebuild_edges,
    write_snapshot,
)
from include.scoring.identity_rules import build_reference, match_accounts, person_accounts
from include.scoring.iplookup import match_ip_ranges
from include.scoring.lake import Lake
from include.scoring.nonhuman import first_deliveries, non_human_reasons
from include.scoring.normalize import email_domain, normalize_company_name, normalize_email, registrable_domain
from include.scoring.validate import _hash_ids

log = logging.getLogger(__name__)
SHIPPED_FREE_MAIL = Path(__file__).resolve().parent / "data" / "free_email_domains.txt"

UNIFIED = ["event_id", "source", "event_time", "event_type", "email", "anonymous_id", "ip", "url", "form_type", "campaign_id", "user_agent",
           "company_domain", "company_name", "platform", "crm_contact_id", "crm_account_id"]
RESOLVED_COLUMNS = ["event_id", "source", "event_time", "event_type", "account_id", "person_key", "contact_id", "role", "resolution_method", "url", "form_type", "campaign_id", "platform"]


@dataclass
class IdentityResult:
    day: date
    events: int
    resolved: int
    unresolved: int
    filtered: int
    by_method: dict[str, int] = field(default_factory=dict)
    by_reason: dict[str, int] = field(default_factory=dict)
    filtered_by_reason: dict[str, int] = field(default_factory=dict)
    by_source: dict[str, dict[str, int]] = field(default_factory=dict)
    firings: dict[str, int] = field(default_factory=dict)
    path: str = ""
    source: str = "identity"

    @property
    def resolution_rate(self) -> float:
        humans = self.events - self.filtered
        return self.resolved / humans if humans else 0.0

    def line(self) -> str:
        methods = ", ".join(f"{k} {v:,}" for k, v in sorted(self.by_method.items(), key=lambda kv: -kv[1]))
        return (f"resolve {self.day}  {self.events:>9,} events -> {self.resolved:,} resolved ({self.resolution_rate:.1%} of human), "
                f"{self.unresolved:,} unresolved, {self.filtered:,} filtered  [{methods}]")


def _utc(day: date) -> pd.Timestamp:
    return pd.Timestamp(datetime.combine(day, time(0), tzinfo=timezone.utc))


def _frame(lake: Lake, dataset: str, day: date) -> pd.DataFrame:
    return lake.read_df(dataset, day)


def _unify(lake: Lake, day: date) -> dict[str, pd.DataFrame]:
    web = _frame(lake, "valid/web", day)
    email = _frame(lake, "valid/email", day)
    ad = _frame(lake, "valid/ad", day)
    parts = {
        "web": web.assign(source="web", campaign_id=pd.NA, company_domain=pd.NA, company_name=pd.NA, platform=pd.NA),
        "email": email.assign(source="email", anonymous_id=pd.NA, form_type=pd.NA, company_domain=pd.NA, company_name=pd.NA, platform=pd.NA),
        "ad": ad.assign(source="ad", url=pd.NA, form_type=pd.NA, user_agent=pd.NA),
    }
    return {k: v.assign(crm_contact_id=pd.NA, crm_account_id=pd.NA)[UNIFIED] for k, v in parts.items()}


def _crm_events(lake: Lake, config: ScoringConfig, day: date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Activities of the late-arrival window not emitted on an earlier day; and the re-emitted ones."""
    acts = _frame(lake, "valid/crm/activities", day)
    lookback = config.validation.late_arrival_days
    window = (acts["occurred_at"] >= _utc(day - timedelta(days=lookback))) & (acts["occurred_at"] < _utc(day + timedelta(days=1)))
    acts = acts[window]
    earlier = lake.read_range("event_ids/crm", day - timedelta(days=lookback), day - timedelta(days=1), columns=["h"]) if lookback else None
    seen = np.isin(_hash_ids(acts["activity_id"]), earlier.column("h").to_numpy()) if earlier is not None else np.zeros(len(acts), bool)
    frame = pd.DataFrame(
        {
            "event_id": acts["activity_id"].to_numpy(),
            "source": "crm",
            "event_time": acts["occurred_at"].reset_index(drop=True),
            "event_type": acts["activity_type"].to_numpy(),
            "crm_contact_id": acts["contact_id"].to_numpy(),
            "crm_account_id": acts["account_id"].to_numpy(),
        }
    ).reindex(columns=UNIFIED)
    return frame[~seen], frame[seen]


def _free_domains(lake: Lake, config: ScoringConfig, day: date) -> set[str]:
    table = lake.read("reference/free_email_domains", day, missing_ok=True)
    domains = table.column("domain").to_pylist() if table is not None else SHIPPED_FREE_MAIL.read_text().split()
    return {d.strip().lower() for d in domains if d} | {d.lower() for d in config.identity.extra_free_email_domains}


def _blocked(values: pd.Series, kind: str, config: ScoringConfig) -> pd.Series:
    ident = config.identity
    if kind == "email":
        local = values.str.replace(r"@.*$", "", regex=True)
        domain = email_domain(values)
        locals_ = {x.lower() for x in ident.blocked_email_local_parts}
        domains = {x.lower() for x in ident.blocked_email_domains}
        return pd.Series(isin(local, locals_) | isin(domain, domains), index=values.index)
    mask = pd.Series(False, index=values.index)
    for pattern in ident.blocked_anonymous_ids:
        mask |= values.astype("string").str.fullmatch(pattern).fillna(False)
    return mask


def _prepare(events: pd.DataFrame, config: ScoringConfig, ranges: pd.DataFrame, firings: list[dict]) -> pd.DataFrame:
    ev = events.reset_index(drop=True)
    ev["event_time"] = pd.to_datetime(ev["event_time"], utc=True)
    email_norm = normalize_email(ev["email"])
    blocked_email = _blocked(email_norm, "email", config)
    anon = ev["anonymous_id"].astype("string").str.strip()
    blocked_anon = _blocked(anon, "cookie", config) & anon.notna()
    for kind, mask, values in (("blocked_email", blocked_email, email_norm), ("blocked_anonymous_id", blocked_anon, anon)):
        for value, count in values[mask].value_counts().items():
            firings.append({"rule": kind, "identifier": str(value), "detail": "placeholder value: never links, never resolves", "count": int(count)})
    ev["email_norm"] = email_norm.where(~blocked_email)
    ev["anonymous_id"] = anon.where(~blocked_anon)
    ev["email_reg_domain"] = registrable_domain(email_domain(ev["email_norm"]))
    ev["company_reg_domain"] = registrable_domain(ev["company_domain"])
    ev["company_name_norm"] = normalize_company_name(ev["company_name"])
    ev["ip_range_row"] = match_ip_ranges(ev["ip"], ranges).to_numpy()
    kinds = ranges["kind"].to_numpy(dtype=object)
    ev["ip_kind"] = pd.Series(np.where(ev["ip_range_row"] >= 0, kinds[np.maximum(ev["ip_range_row"], 0)] if len(kinds) else None, None), dtype="string")
    return ev


def _event_edges(ev: pd.DataFrame) -> pd.DataFrame:
    both = ev["email_norm"].notna() & ev["anonymous_id"].notna()
    return pd.DataFrame({"a": node(EMAIL, ev.loc[both, "email_norm"]), "b": node(COOKIE, ev.loc[both, "anonymous_id"])})


def _contact_edges(contacts: pd.DataFrame) -> pd.DataFrame:
    email_norm = normalize_email(contacts["email"])
    ok = email_norm.notna() & contacts["contact_id"].notna()
    return pd.DataFrame({"a": node(CONTACT, contacts.loc[ok, "contact_id"]), "b": node(EMAIL, email_norm[ok])})


def _history_edges(lake: Lake, config: ScoringConfig):
    def edges_of(day: date) -> pd.DataFrame | None:
        parts = []
        for source in ("web", "ad"):
            frame = lake.read_df(f"valid/{source}", day, columns=["email", "anonymous_id"], missing_ok=True)
            if frame is not None:
                frame = frame.dropna()
                email_norm = normalize_email(frame["email"])
                anon = frame["anonymous_id"].astype("string").str.strip()
                ok = ~_blocked(email_norm, "email", config) & ~_blocked(anon, "cookie", config)
                parts.append(pd.DataFrame({"a": node(EMAIL, email_norm[ok]), "b": node(COOKIE, anon[ok]), "first_seen": day}))
        return pd.concat(parts, ignore_index=True) if parts else None

    return edges_of


def resolve_identities(lake: Lake, config: ScoringConfig, day: date) -> IdentityResult:
    """The resolve stage for day D (see module docstring)."""
    parts = _unify(lake, day)
    crm_events, crm_repeats = _crm_events(lake, config, day)
    accounts = _frame(lake, "valid/crm/accounts", day)
    contacts = _frame(lake, "valid/crm/contacts", day)
    ranges = lake.read_df("reference/ip_ranges", day, missing_ok=True)
    ranges = ranges if ranges is not None else pd.DataFrame(columns=["cidr", "company_domain", "company_name", "kind"])
    firings: list[dict] = []
    ref = build_reference(accounts, contacts, ranges, _free_domains(lake, config, day))
    firings += ref.firings
    repeat = np.r_[np.zeros(sum(len(p) for p in parts.values()) + len(crm_events), bool), np.ones(len(crm_repeats), bool)]
    ev = _prepare(pd.concat([*parts.values(), crm_events, crm_repeats], ignore_index=True), config, ranges, firings)
    ev["filter_reason"] = non_human_reasons(ev, first_deliveries(_deliveries(lake, day, ev)), config.non_human).mask(repeat, "duplicate")
    previous = previous_edges(lake, day)
    contact_edges = _contact_edges(contacts)
    if previous is None:
        previous, replayed_days = rebuild_edges(lake, day, contact_edges, _history_edges(lake, config))
        if replayed_days:
            log.warning("identity snapshot of %s missing: rebuilt %s edges from %s earlier day(s) of valid data", day - timedelta(days=1), len(previous), replayed_days)
    humans = ev[ev["filter_reason"].isna()]
    graph = build_graph(previous, pd.concat([_event_edges(humans), contact_edges], ignore_index=True), day, config.identity.max_emails_per_cookie)
    for _, row in graph.newly_shared.iterrows():
        firings.append({"rule": "shared_device", "identifier": row["node"][2:], "detail": f"cookie linked to {row['emails']} emails (limit {config.identity.max_emails_per_cookie}): links nothing from now on", "count": int(row["emails"])})
    shared = set(graph.shared_cookies["node"])
    cookie_nodes = node(COOKIE, ev["anonymous_id"])
    ev["cookie_shared"] = isin(cookie_nodes, shared)
    identity_node = node(EMAIL, ev["email_norm"]).fillna(cookie_nodes.where(~ev["cookie_shared"])).fillna(node(CONTACT, ev["crm_contact_id"]))
    ev["person_key"] = persons_of(identity_node, graph)
    matched = match_accounts(ev, ref, person_accounts(graph, ref, ev["person_key"]))
    ev = pd.concat([ev, matched], axis=1)
    return _write_outputs(lake, day, ev, graph, firings, crm_events)


def _deliveries(lake: Lake, day: date, ev: pd.DataFrame) -> pd.DataFrame:
    """Delivered emails of D and D-1 (a click just after midnight belongs to yesterday's send)."""
    today = ev.loc[ev["source"] == "email", ["email_norm", "campaign_id", "event_type", "event_time"]]
    prev = lake.read_df("valid/email", day - timedelta(days=1), columns=["email", "campaign_id", "event_type", "event_time"], missing_ok=True)
    if prev is None or prev.empty:
        return today
    prev = prev[prev["event_type"] == "delivered"]
    prev = prev.assign(email_norm=normalize_email(prev["email"]))[["email_norm", "campaign_id", "event_type", "event_time"]]
    return pd.concat([today, prev], ignore_index=True)


def _write_outputs(lake: Lake, day: date, ev: pd.DataFrame, graph, firings: list[dict], crm_events: pd.DataFrame) -> IdentityResult:
    filtered = ev["filter_reason"].notna()
    resolved = ~filtered & ev["account_id"].notna()
    unresolved = ~filtered & ev["account_id"].isna()
    # Rows keep the order of the valid partitions (source by source, file by file): deterministic.
    res = ev.loc[resolved, RESOLVED_COLUMNS]
    unres = ev.loc[unresolved, ["event_id", "source", "event_time", "event_type", "reason"]]
    filt = ev.loc[filtered, ["event_id", "source", "event_time", "event_type", "account_id", "person_key", "filter_reason"]].rename(columns={"filter_reason": "reason"})
    path = lake.write_partition("resolved", day, res)
    lake.write_partition("unresolved", day, unres)
    lake.write_partition("filtered", day, filt)
    write_snapshot(lake, day, graph)
    lake.write_partition("event_ids/crm", day, pd.DataFrame({"h": _hash_ids(crm_events["event_id"])}))
    rules = pd.DataFrame(firings, columns=["rule", "identifier", "detail", "count"]).astype({"count": "int64"})
    lake.write_partition("identity_rules", day, rules)
    metrics = pd.concat(
        [
            res.groupby(["source", "resolution_method"]).size().rename("events").reset_index().rename(columns={"resolution_method": "key"}).assign(outcome="resolved"),
            unres.groupby(["source", "reason"]).size().rename("events").reset_index().rename(columns={"reason": "key"}).assign(outcome="unresolved"),
            filt.groupby(["source", "reason"]).size().rename("events").reset_index().rename(columns={"reason": "key"}).assign(outcome="filtered"),
        ],
        ignore_index=True,
    )[["source", "outcome", "key", "events"]]
    lake.write_partition("resolution", day, metrics.astype({"events": "int64"}))
    result = IdentityResult(day, len(ev), int(resolved.sum()), int(unresolved.sum()), int(filtered.sum()), path=path)
    result.by_method = res["resolution_method"].value_counts().to_dict()
    result.by_reason = unres["reason"].value_counts().to_dict()
    result.filtered_by_reason = filt["reason"].value_counts().to_dict()
    result.firings = rules.groupby("rule")["count"].sum().to_dict() if len(rules) else {}
    for source, group in metrics.groupby("source"):
        result.by_source[source] = group.groupby("outcome")["events"].sum().to_dict()
    log.info(result.line())
    return result
