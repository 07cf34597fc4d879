"""The person graph (SPEC section 4.2): identifiers as nodes, co-occurrence as edges.

Nodes are strings `<rank>:<value>` with rank 1 = CRM contact id, 2 = email, 3 = cookie
(anonymous_id). Edges come from events carrying an email and a cookie (form fills, tracked email
clicks, ad lead forms) and from the CRM (contact id <-> email). The edge set persists across
days in the lake (identity/dt=D holds every edge seen up to D), so a cookie identified on Monday
resolves its anonymous visits on Friday.

Persons are connected components (scipy, over integer node ids: no Python loop per event). A
person's key is a hash of the smallest node of its component: the contact id when the CRM knows
the person, else an email, else the cookie. It is therefore the same for the same identifiers
whichever order the days are processed in. Cardinality rules stop over-merging: a cookie linked
to more than `max_emails_per_cookie` emails is a shared device and links nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from include.scoring.core.arrowops import isin, lookup, sort_order, sorted_codes, to_arrow, to_series
from include.scoring.core.hashing import hash_text

CONTACT, EMAIL, COOKIE = "1", "2", "3"
EDGE_SCHEMA = pa.schema([("a", pa.string()), ("b", pa.string()), ("first_seen", pa.date32())])


def node(rank: str, values: pd.Series) -> pd.Series:
    return (rank + ":" + values.astype("string")).where(values.notna())


def person_key(nodes: pd.Series) -> pd.Series:
    """The stable key of a node's own (singleton) person: `p` and a 64-bit hash of the node
    (pandas' text hash, computed from the Arrow buffers: `core.hashing.hash_text`)."""
    present = nodes.notna().to_numpy()
    if not present.any():
        return pd.Series(pd.NA, index=nodes.index, dtype="string")
    values = to_arrow(nodes)
    hashes = hash_text(values.filter(pa.array(present)) if not present.all() else values)
    keys = pc.binary_join_element_wise("p", pc.cast(pa.array(hashes, pa.uint64()), pa.string()), "")
    slot = np.cumsum(present) - 1  # each present node's position among the present ones
    return to_series(keys.take(pa.array(slot, pa.int64(), mask=~present)), nodes.index)


def or_own_key(mapped: pd.Series, nodes: pd.Series) -> pd.Series:
    """`mapped` (nodes' person keys where known), else each node's own key: only the nodes still
    without a key are hashed (most of a day's are in the graph or the identity map)."""
    return mapped.fillna(person_key(nodes.where(mapped.isna())))


@dataclass
class Graph:
    edges: pd.DataFrame  # a, b, first_seen: every edge up to D
    person_of: pd.Series  # node -> person_key, for nodes in a non-trivial component
    shared_cookies: pd.DataFrame  # node, emails: cookies over the email limit
    newly_shared: pd.DataFrame  # node, emails: cookies that crossed the limit on D


def dedupe_edges(edges: pd.DataFrame) -> pd.DataFrame:
    edges = edges.dropna(subset=["a", "b"])
    edges = edges[edges["a"] != edges["b"]]
    swap = edges["a"] > edges["b"]
    a = edges["a"].where(~swap, edges["b"])
    b = edges["b"].where(~swap, edges["a"])
    out = pd.DataFrame({"a": a.astype("string"), "b": b.astype("string"), "first_seen": edges["first_seen"]})
    out = out.take(sort_order(out, ["a", "b", "first_seen"]))
    # sorted, so the copies of a link are adjacent: keep each run's first (its earliest first_seen)
    a, b = to_arrow(out["a"]), to_arrow(out["b"])
    keep = np.ones(len(out), dtype=bool)
    if len(out) > 1:
        n = len(out) - 1
        same = pc.and_(pc.equal(a.slice(1), a.slice(0, n)), pc.equal(b.slice(1), b.slice(0, n)))
        keep[1:] = ~np.asarray(same.to_numpy(zero_copy_only=False), dtype=bool)
    return out[keep].reset_index(drop=True)


def _emails_per_cookie(edges: pd.DataFrame) -> pd.Series:
    """Distinct emails linked to each cookie (edges are stored with the smaller node first)."""
    cookie_email = edges[edges["a"].str.startswith(EMAIL + ":") & edges["b"].str.startswith(COOKIE + ":")]
    return cookie_email.groupby("b")["a"].nunique()


def build_graph(previous: pd.DataFrame, today: pd.DataFrame, day: date, max_emails_per_cookie: int) -> Graph:
    edges = dedupe_edges(pd.concat([previous, today.assign(first_seen=day)], ignore_index=True))
    counts_now = _emails_per_cookie(edges)
    counts_before = _emails_per_cookie(edges[edges["first_seen"] < day])
    shared_mask = counts_now > max_emails_per_cookie
    shared = pd.DataFrame({"node": counts_now.index[shared_mask], "emails": counts_now[shared_mask].to_numpy()})
    before = counts_before.reindex(shared["node"]).fillna(0).to_numpy()
    newly = shared[before <= max_emails_per_cookie].reset_index(drop=True)
    usable = edges[~isin(edges["a"], shared["node"]) & ~isin(edges["b"], shared["node"])]
    person_of = _components(usable)
    return Graph(edges, person_of, shared, newly)


def _components(edges: pd.DataFrame) -> pd.Series:
    if edges.empty:
        return pd.Series(dtype="string")
    ends = pa.concat_arrays([to_arrow(edges["a"]), to_arrow(edges["b"])])
    # each end's code in the sorted distinct nodes, so a component's first node is its smallest
    nodes, codes = sorted_codes(ends)
    n = len(nodes)
    m = len(edges)
    matrix = coo_matrix((np.ones(m, np.int8), (codes[:m], codes[m:])), shape=(n, n))
    _, labels = connected_components(matrix, directed=False)
    _, smallest = np.unique(labels, return_index=True)  # per label, its first (smallest) node
    root_keys = person_key(to_series(nodes.take(pa.array(smallest))))  # one hash per person, not per node
    keys = to_arrow(root_keys).take(pa.array(labels))
    return pd.Series(to_series(keys).array, index=pd.Index(to_series(nodes).array), dtype="string")


def persons_of(nodes: pd.Series, graph: Graph) -> pd.Series:
    """Person key of each node: its component's key, or its own key when it links to nothing."""
    mapped = lookup(nodes, graph.person_of)
    return or_own_key(mapped, nodes).astype("string")
