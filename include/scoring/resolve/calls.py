"""Segment / RudderStack identity calls in resolution (calls/web, written by extract).

- `identify` links its anonymousId, its userId (`user:<userId>`, a cookie-like identifier) and
  its `traits.email` in the person graph, like a form fill carrying a cookie and an email; a
  `group` call links its anonymousId and userId the same way.
- `group` also ties those identifiers to an account: `groupId` when it is a CRM account id, else
  the registrable domain of the group's domain trait when an account has it (never a free-mail
  domain). A person with such a tie resolves by `group_call`, ranked right after `crm_contact`.
  The ties persist across days in identity_groups/dt=D (every identifier's latest group call up
  to D), like the person graph: a visitor grouped on Monday resolves on Friday. A group call
  naming no known account ties nothing and fires the rule `group_unknown_account`.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa

from include.scoring.core.arrowops import isin, lookup
from include.scoring.core.config import ScoringConfig
from include.scoring.core.normalize import registrable_domain
from include.scoring.lake import catalog
from include.scoring.lake.store import Lake
from include.scoring.resolve.graph import COOKIE, EMAIL, Graph, node, persons_of
from include.scoring.resolve.inputs import blocked, identifiers
from include.scoring.resolve.rules import Reference

GROUP_SCHEMA = pa.schema(
    [
        ("node", pa.string()),
        ("group_id", pa.string()),
        ("group_domain", pa.string()),
        ("seen_at", pa.timestamp("us", tz="UTC")),
    ]
)
CALL_COLUMNS = ["kind", "anonymous_id", "user_id", "email", "group_id", "group_domain", "event_time"]


def read_calls(lake: Lake, day: date) -> pd.DataFrame:
    """The day's identity calls (none when the day had no Segment files, or predates them)."""
    frame = lake.read_df(catalog.CALLS, day, columns=CALL_COLUMNS, missing_ok=True)
    return frame if frame is not None else pd.DataFrame({c: pd.Series(dtype=object) for c in CALL_COLUMNS})


def _nodes(calls: pd.DataFrame, config: ScoringConfig) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Email, anonymous-id and user-id nodes of each call (placeholders removed)."""
    email, anon, _, _ = identifiers(calls[["email", "anonymous_id"]], config)
    user = calls["user_id"].astype("string").str.strip()
    user = user.where(~blocked(user.str.removeprefix("user:"), "cookie", config))
    return node(EMAIL, email), node(COOKIE, anon), node(COOKIE, user)


def call_edges(calls: pd.DataFrame, config: ScoringConfig) -> pd.DataFrame:
    """Person-graph edges of identity calls: email - anonymous id - user id."""
    email, anon, user = _nodes(calls, config)
    is_identify = (calls["kind"] == "identify").to_numpy(dtype=bool)
    pairs = [
        pd.DataFrame({"a": email[is_identify], "b": anon[is_identify]}),
        pd.DataFrame({"a": email[is_identify], "b": user[is_identify]}),
        pd.DataFrame({"a": anon, "b": user}),
    ]
    return pd.concat(pairs, ignore_index=True).dropna().reset_index(drop=True)


def history_call_edges(lake: Lake, config: ScoringConfig, day: date) -> pd.DataFrame | None:
    """The call edges of an earlier day (rebuilding the graph when a snapshot is missing)."""
    calls = lake.read_df(catalog.CALLS, day, columns=CALL_COLUMNS, missing_ok=True)
    return None if calls is None or calls.empty else call_edges(calls, config).assign(first_seen=day)


def _group_rows(calls: pd.DataFrame, config: ScoringConfig) -> pd.DataFrame:
    groups = calls[(calls["kind"] == "group").to_numpy(dtype=bool)]
    _, anon, user = _nodes(groups, config)
    rows = pd.concat([groups.assign(node=anon), groups.assign(node=user)], ignore_index=True).dropna(subset=["node"])
    return rows.rename(columns={"event_time": "seen_at"}).reindex(columns=GROUP_SCHEMA.names)


def _latest(rows: pd.DataFrame) -> pd.DataFrame:
    rows = rows.assign(seen_at=pd.to_datetime(rows["seen_at"], utc=True))
    ordered = rows.sort_values(["node", "seen_at", "group_id"], ascending=[True, False, True], kind="stable")
    return ordered.drop_duplicates("node").reset_index(drop=True)


def group_links(lake: Lake, config: ScoringConfig, day: date, calls: pd.DataFrame) -> pd.DataFrame:
    """Every identifier's latest group call up to D, written to identity_groups/dt=D."""
    previous = lake.read_df(catalog.IDENTITY_GROUPS, day - timedelta(days=1), missing_ok=True)
    if previous is None:  # first day, or rebuilt: every earlier day's group calls
        earlier = [d for d in lake.days(catalog.CALLS) if d < day]
        previous = pd.concat(
            [_group_rows(read_calls(lake, d), config) for d in earlier] or [pd.DataFrame(columns=GROUP_SCHEMA.names)],
            ignore_index=True,
        )
    links = _latest(pd.concat([previous, _group_rows(calls, config)], ignore_index=True))
    lake.write_partition(catalog.IDENTITY_GROUPS, day, links, schema=GROUP_SCHEMA)
    return links


def person_groups(
    links: pd.DataFrame, graph: Graph, ref: Reference, accounts: pd.Series, day: date, firings: list
) -> pd.Series:
    """person_key -> account of the person's latest group call that names a known account; the
    group calls of D naming none fire `group_unknown_account`."""
    if links.empty:
        return pd.Series(dtype="string")
    group_id = links["group_id"].astype("string").str.strip()  # checked and tied trimmed: " ACC-1 " names ACC-1
    by_id = group_id.where(isin(group_id, set(accounts.dropna())))
    reg = registrable_domain(links["group_domain"])
    by_domain = lookup(reg.where(~isin(reg, ref.free_domains)), ref.domain_account)
    account = by_id.fillna(by_domain)
    today = (pd.to_datetime(links["seen_at"], utc=True).dt.date == day).to_numpy(dtype=bool)
    unknown = links[account.isna().to_numpy(dtype=bool) & today]
    named = unknown["group_id"].astype("string").fillna("") + np.where(
        unknown["group_domain"].notna(), " / " + unknown["group_domain"].astype("string").fillna(""), ""
    )
    for value, count in named.value_counts().items():
        firings.append(
            {
                "rule": "group_unknown_account",
                "identifier": str(value),
                "detail": "group call names no CRM account id and no account domain: ties nothing",
                "count": int(count),
            }
        )
    tied = links.assign(account=account, person_key=persons_of(links["node"], graph)).dropna(subset=["account"])
    best = tied.sort_values(["person_key", "seen_at", "account"], ascending=[True, False, True], kind="stable")
    best = best.drop_duplicates("person_key")
    return pd.Series(best["account"].astype("string").to_numpy(), index=best["person_key"].to_numpy(), dtype="string")
