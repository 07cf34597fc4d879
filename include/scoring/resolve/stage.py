"""Resolve for day D: every valid event to an account and a person, or a recorded reason.

Two steps, so a large day can be spread over workers:
- `prepare_resolution` (once a day) scans the day's identifiers, updates the person graph
  (identity/dt=D), writes the identity map of the day's identifiers (identity_map/dt=D: person,
  the person's account, contact and role, shared devices), the rule firings (identity_rules/dt=D)
  and the CRM activity ids emitted today (event_ids/crm/dt=D);
- `resolve_shard(k)` resolves the events of shard k against that map and writes its part of
  resolved/, unresolved/, filtered/ and resolution/ (SPEC section 7).
With one shard the result is the same as with many. Conservation: valid events = resolved +
unresolved + filtered.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa

from include.scoring.core.arrowops import distinct, isin, lookup
from include.scoring.core.config import ScoringConfig
from include.scoring.core.hashing import hash_ids
from include.scoring.core.normalize import matches
from include.scoring.core.results import StageResult
from include.scoring.lake import catalog
from include.scoring.lake.store import Lake
from include.scoring.resolve.calls import call_edges, group_links, history_call_edges, person_groups, read_calls
from include.scoring.resolve.events import shard_events
from include.scoring.resolve.graph import (
    CONTACT,
    COOKIE,
    EMAIL,
    build_graph,
    node,
    or_own_key,
)
from include.scoring.resolve.inputs import crm_contact_edges, crm_events, crm_ledger_counts, identifiers, load_reference
from include.scoring.resolve.outputs import (  # noqa: F401 - the output schemas are used through this module too
    RESOLVED_COLUMNS,
    RESOLVED_SCHEMA,
    in_time_order,
    time_order,
    write_shard_outputs,
)
from include.scoring.resolve.rules import DirectMatches, Reference, direct_matches, match_accounts, person_accounts
from include.scoring.resolve.snapshots import previous_edges, rebuild_edges, write_snapshot

if TYPE_CHECKING:
    from include.scoring.context import RunContext

log = logging.getLogger(__name__)
_S = pa.string()
MAP_SCHEMA = pa.schema(
    [("node", _S), ("person_key", _S), ("shared", pa.bool_())]
    + [(name, _S) for name in ("p_account", "p_contact", "p_role", "p_group")]
)
RULES_SCHEMA = pa.schema([("rule", _S), ("identifier", _S), ("detail", _S), ("count", pa.int64())])


def resolution_rate(result: StageResult) -> float:
    """Resolved events as a share of the human (not filtered) events of a resolve result."""
    humans = result.count("events") - result.count("filtered")
    return result.count("resolved") / humans if humans else 0.0


# Prepare: the day's graph and identity map -------------------------------------------------------
def _day_identifiers(
    lake: Lake, config: ScoringConfig, day: date, non_human_agent: str
) -> tuple[pd.DataFrame, pd.DataFrame, list[dict]]:
    """Email-cookie pairs of human events (graph edges), the day's identifier nodes, and the
    placeholder firings; only identifier columns are read."""
    edges, nodes, firings = [], [], []
    blocked_counts: dict[tuple[str, str], int] = {}
    for source, columns in (
        ("web", ["email", "anonymous_id", "user_agent"]),
        ("email", ["email"]),
        ("ad", ["email", "anonymous_id"]),
    ):
        frame = lake.read_df(catalog.valid(source), day, columns=columns)
        if "anonymous_id" not in frame.columns:
            frame["anonymous_id"] = pd.Series(pd.NA, index=frame.index, dtype="string")
        email, anon, bad_email, bad_anon = identifiers(frame, config)
        for kind, values in (("blocked_email", bad_email), ("blocked_anonymous_id", bad_anon)):
            for value, count in values.dropna().value_counts().items():
                blocked_counts[(kind, str(value))] = blocked_counts.get((kind, str(value)), 0) + int(count)
        human = ~matches(frame["user_agent"], non_human_agent) if source == "web" else np.ones(len(frame), bool)
        both = (email.notna() & anon.notna()).to_numpy() & human
        if source != "email":
            edges.append(pd.DataFrame({"a": node(EMAIL, email[both]), "b": node(COOKIE, anon[both])}))
            nodes.append(node(COOKIE, distinct(anon)))
        nodes.append(node(EMAIL, distinct(email)))
    for (kind, value), count in sorted(blocked_counts.items()):
        firings.append(
            {
                "rule": kind,
                "identifier": value,
                "detail": "placeholder value: never links, never resolves",
                "count": count,
            }
        )
    today_nodes = pd.concat(nodes, ignore_index=True).drop_duplicates()
    return pd.concat(edges, ignore_index=True), pd.DataFrame({"node": today_nodes}), firings


def _history_edges(lake: Lake, config: ScoringConfig):
    def edges_of(day: date) -> pd.DataFrame | None:
        parts = []
        for source in ("web", "ad"):
            frame = lake.read_df(catalog.valid(source), day, columns=["email", "anonymous_id"], missing_ok=True)
            if frame is not None:
                email, anon, _, _ = identifiers(frame, config)
                ok = email.notna() & anon.notna()
                parts.append(
                    pd.DataFrame({"a": node(EMAIL, email[ok]), "b": node(COOKIE, anon[ok]), "first_seen": day})
                )
        parts.append(history_call_edges(lake, config, day))
        parts = [p for p in parts if p is not None]
        return pd.concat(parts, ignore_index=True) if parts else None

    return edges_of


def _describe_prepared(result: StageResult) -> str:
    fired = ", ".join(f"{k} {v:,}" for k, v in sorted(result.breakdowns["firings"].items())) or "none"
    return (
        f"resolve prepare {result.day}  person graph {result.count('links'):,} links; "
        f"{result.count('identifiers'):,} identifiers today; rules fired: {fired}"
    )


def prepare_resolution(
    lake: Lake, config: ScoringConfig, day: date, ref: Reference | Future[Reference] | None = None
) -> StageResult:
    """The day's person graph and identity map, rule firings and emitted CRM ids (see module doc).
    `ref` may be a future (a whole-day run loads it on its helper thread): the day's identifiers
    are read first and the reference waited for only where the graph needs it."""
    account_ids = lake.read_df(catalog.valid("crm/accounts"), day, columns=["account_id"])["account_id"]
    day_edges, today, blocked_firings = _day_identifiers(lake, config, day, config.non_human.bot_user_agent)
    fresh, repeats = crm_events(lake, config, day)
    contact_nodes = node(
        CONTACT, pd.concat([fresh["crm_contact_id"], repeats["crm_contact_id"]], ignore_index=True)
    ).dropna()
    today = pd.concat([today, pd.DataFrame({"node": contact_nodes})], ignore_index=True).drop_duplicates()
    previous = previous_edges(lake, day)
    calls = read_calls(lake, day)
    if ref is None:
        ref = load_reference(lake, config, day)
    elif isinstance(ref, Future):
        ref = ref.result()
    firings = [*ref.firings, *blocked_firings]
    contact_edges = ref.contact_edges if ref.contact_edges is not None else crm_contact_edges(ref.contacts, config)
    if previous is None:
        previous, replayed = rebuild_edges(lake, day, contact_edges, _history_edges(lake, config))
        if replayed:
            log.warning(
                "identity snapshot of %s missing: rebuilt %s links from %s earlier day(s) of valid data",
                day - timedelta(days=1),
                len(previous),
                replayed,
            )
    graph = build_graph(
        previous,
        pd.concat([day_edges, contact_edges, call_edges(calls, config)], ignore_index=True),
        day,
        config.identity.max_emails_per_cookie,
    )
    limit = config.identity.max_emails_per_cookie
    for row in graph.newly_shared.itertuples():
        firings.append(
            {
                "rule": "shared_device",
                "identifier": row.node[2:],
                "detail": f"cookie linked to {row.emails} emails (limit {limit}): links nothing from now on",
                "count": int(row.emails),
            }
        )
    shared = set(graph.shared_cookies["node"])
    ident = today.assign(shared=isin(today["node"], shared))
    ident["person_key"] = or_own_key(lookup(ident["node"], graph.person_of), ident["node"]).where(~ident["shared"])
    persons = person_accounts(graph, ref, ident["person_key"])
    ident = ident.join(persons, on="person_key")
    groups = person_groups(group_links(lake, config, day, calls), graph, ref, account_ids, day, firings)
    ident["p_group"] = lookup(ident["person_key"], groups)
    write_snapshot(lake, day, graph)
    lake.write_partition(catalog.IDENTITY_MAP, day, ident.reindex(columns=MAP_SCHEMA.names), schema=MAP_SCHEMA)
    rules = pd.DataFrame(firings, columns=RULES_SCHEMA.names).astype({"count": "int64"})
    lake.write_partition(catalog.IDENTITY_RULES, day, rules, schema=RULES_SCHEMA)
    lake.write_partition(catalog.event_ids("crm"), day, pd.DataFrame({"h": hash_ids(fresh["event_id"])}))
    firing_counts = rules.groupby("rule")["count"].sum().to_dict() if len(rules) else {}
    result = StageResult(
        "resolve",
        "prepare",
        day,
        counts={"identifiers": len(ident), "links": len(graph.edges)},
        breakdowns={"firings": {str(k): int(v) for k, v in firing_counts.items()}},
        describe=_describe_prepared,
    )
    log.info(result.line())
    return result


def crm_entries(lake: Lake, config: ScoringConfig, day: date) -> tuple[int, int]:
    """The CRM ledger's raw side of D: (activity events from the valid snapshot, quarantined ones)."""
    return crm_ledger_counts(lake, config, day)


# Resolve one shard --------------------------------------------------------------------------------
def resolve_shard(
    lake: Lake, config: ScoringConfig, day: date, shard: int = 0, shards: int = 1, ref: Reference | None = None
) -> StageResult:
    """Resolve the events of one shard against the day's identity map (prepare first)."""
    ref = ref if ref is not None else load_reference(lake, config, day)
    return attribute_shard(lake, day, shard_events(lake, config, day, ref.ranges, shard, shards), ref, shard, shards)


def attribute_shard(
    lake: Lake,
    day: date,
    ev: pd.DataFrame,
    ref: Reference,
    shard: int = 0,
    shards: int = 1,
    direct: DirectMatches | None = None,
    order: np.ndarray | None = None,
) -> StageResult:
    """Give a shard's events (`shard_events`) their person and account through the day's identity
    map, and write the shard's outputs (`direct`: the events' `direct_matches`, `order`: their
    `time_order`, when worked out)."""
    ident = lake.read_df(catalog.IDENTITY_MAP, day).set_index("node")
    shared = ident.index[ident["shared"].to_numpy(dtype=bool)]
    person_of = ident["person_key"].dropna()
    persons = (
        ident.dropna(subset=["person_key"])
        .drop_duplicates("person_key")
        .set_index("person_key")[["p_account", "p_contact", "p_role", "p_group"]]
    )
    # both halves of the rows at once: the work is mostly Arrow kernels, which release the GIL
    half = len(ev) // 2
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="resolve-attribute") as other:
        second = other.submit(
            _attributed, ev.iloc[half:], shared, person_of, persons, ref, direct and direct.rows(slice(half, None))
        )
        first = _attributed(ev.iloc[:half], shared, person_of, persons, ref, direct and direct.rows(slice(0, half)))
        ev = pd.concat([ev, pd.concat([first, second.result()])], axis=1)
    return write_shard_outputs(lake, day, ev, shard, shards, order)


def _attributed(
    ev: pd.DataFrame,
    shared: pd.Index,
    person_of: pd.Series,
    persons: pd.DataFrame,
    ref: Reference,
    direct: DirectMatches | None,
) -> pd.DataFrame:
    """Each event's person (through the identity map's `person_of`; a cookie in `shared` links
    nobody) and account: cookie_shared, person_key and `match_accounts`' columns."""
    cookie_nodes = node(COOKIE, ev["anonymous_id"])
    cookie_shared = pd.Series(isin(cookie_nodes, shared), index=ev.index)
    identity_node = (
        node(EMAIL, ev["email_norm"])
        .fillna(cookie_nodes.where(~cookie_shared))
        .fillna(node(CONTACT, ev["crm_contact_id"]))
    )
    person_key = or_own_key(lookup(identity_node, person_of), identity_node)
    matched = match_accounts(ev.assign(cookie_shared=cookie_shared, person_key=person_key), ref, persons, direct)
    return pd.concat([pd.DataFrame({"cookie_shared": cookie_shared, "person_key": person_key}), matched], axis=1)


def resolve_identities(lake: Lake, config: ScoringConfig, day: date, shards: int | None = None) -> StageResult:
    """Prepare, then every shard in turn (the CLI's way; Airflow maps the shards over workers).
    A helper thread builds each shard's events meanwhile (they need no identity map), one shard
    ahead at most, so both cores work and memory stays that of two shards."""
    shards = shards or config.scale.shards
    parts = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="resolve-events") as helper:
        # the helper loads the reference (once: prepare and every shard use the same tables), then
        # builds shard 0's events, the accounts their own identifiers name and their time order, while
        # prepare reads the day's identifiers and builds the person graph

        def events_of(shard: int) -> tuple[pd.DataFrame, DirectMatches, np.ndarray]:
            ref = reference.result()
            ev = shard_events(lake, config, day, ref.ranges, shard, shards)
            return ev, direct_matches(ev, ref), time_order(ev)

        reference = helper.submit(load_reference, lake, config, day, for_prepare=True)
        pending = helper.submit(events_of, 0)
        prepared = prepare_resolution(lake, config, day, reference)
        ref = reference.result()
        for shard in range(shards):
            ev, direct, order = pending.result()
            if shard + 1 < shards:
                pending = helper.submit(events_of, shard + 1)
            parts.append(attribute_shard(lake, day, ev, ref, shard, shards, direct, order))
            del ev, direct, order
    total = parts[0].merged(parts[1:])
    total.unit = "day"
    total.breakdowns["firings"] = dict(prepared.breakdowns["firings"])
    if shards > 1:
        log.info(total.line())
    return total


def resolve_stage(ctx: RunContext, day: date) -> list[StageResult]:
    """The resolve stage for day D: prepare, then every shard in turn (Airflow maps the shards)."""
    return [resolve_identities(ctx.lake, ctx.config, day)]
