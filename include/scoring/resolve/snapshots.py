"""The person graph in the lake: identity/dt=D holds every edge seen up to D.

Resolve reads yesterday's snapshot, rebuilds the edge set from the earlier days' valid data when
it is missing, and writes today's; the graph itself (graph.py) never touches the lake.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from include.scoring.lake import catalog
from include.scoring.lake.store import Lake
from include.scoring.resolve.graph import EDGE_SCHEMA, Graph, dedupe_edges


def previous_edges(lake: Lake, day: date) -> pd.DataFrame | None:
    """Edges as of D-1, or None when that snapshot is missing."""
    table = lake.read(catalog.IDENTITY, day - timedelta(days=1), missing_ok=True)
    return None if table is None else table.to_pandas()


def rebuild_edges(lake: Lake, day: date, contact_edges: pd.DataFrame, event_edges_of) -> tuple[pd.DataFrame, int]:
    """Replay: the edge set of every earlier day with valid data, when D-1's snapshot is missing.

    Returns the edges and how many earlier days they were rebuilt from (0 on a first run).
    """
    earlier = sorted({d for source in ("web", "ad") for d in lake.days(catalog.valid(source)) if d < day})
    parts = [event_edges_of(d) for d in earlier]
    parts = [p for p in parts if p is not None and len(p)]
    if contact_edges is not None and len(contact_edges):
        parts.append(contact_edges.assign(first_seen=min(earlier) if earlier else day))
    if not parts:
        return pd.DataFrame(
            {"a": pd.Series(dtype="string"), "b": pd.Series(dtype="string"), "first_seen": pd.Series(dtype="object")}
        ), 0
    return dedupe_edges(pd.concat(parts, ignore_index=True)), len(earlier)


def write_snapshot(lake: Lake, day: date, graph: Graph) -> str:
    return lake.write_partition(catalog.IDENTITY, day, graph.edges[["a", "b", "first_seen"]], schema=EDGE_SCHEMA)
