"""The data-quality section: what the month's published days say about the data behind the scores.

Counts per source come from the warehouse's reconciliation ledger (`pipeline_runs.counts_json`,
one row per published day); reasons from the lake (`quarantine/<source>` failed checks,
`resolution` for unresolved and filtered reasons, `identity_rules` for rule firings). Failed
and retried task runs come from Airflow: the DAG task gathers them and passes them in as plain
data; outside Airflow the section says they are not available rather than guessing.
"""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import sqlalchemy as sa

from include.scoring.core.sources import EVENT_SOURCES
from include.scoring.lake import catalog
from include.scoring.lake.store import Lake
from include.scoring.publish.tables import pipeline_runs
from include.scoring.publish.warehouse import read_table

COUNT_KEYS = ["raw", "quarantined", "filtered", "unresolved", "zero_point", "scored"]
NOT_IN_AIRFLOW = {
    "available": False,
    "source": "",
    "note": "not available outside Airflow: the engagement_monthly_calibration DAG adds the failed and retried task "
    "runs of engagement_daily",
    "runs": [],
}


def _per_source(runs: pd.DataFrame) -> list[dict]:
    totals: dict[str, dict[str, int]] = {}
    for text in runs["counts_json"]:
        for source, counts in json.loads(text).get("sources", {}).items():
            into = totals.setdefault(source, dict.fromkeys(COUNT_KEYS, 0))
            for key in COUNT_KEYS:
                into[key] += int(counts.get(key, 0))
    out = []
    for source in sorted(totals, key=lambda s: (s not in EVENT_SOURCES, s)):
        c = totals[source]
        human = c["raw"] - c["quarantined"] - c["filtered"]
        out.append(
            {
                "source": source,
                **c,
                "quarantined_share": c["quarantined"] / c["raw"] if c["raw"] else 0.0,
                "unresolved_share": c["unresolved"] / human if human > 0 else 0.0,
            }
        )
    return out


def _reasons(lake: Lake, first: date, last: date) -> dict[str, list[dict]]:
    table = lake.read_range(catalog.RESOLUTION, first, last)
    out: dict[str, list[dict]] = {"unresolved": [], "filtered": [], "quarantined": []}
    if table is not None and table.num_rows:
        frame = table.to_pandas()
        for outcome in ("unresolved", "filtered"):
            part = frame[frame["outcome"] == outcome].groupby(["source", "key"])["events"].sum().reset_index()
            out[outcome] = [
                {"source": r.source, "reason": r.key, "events": int(r.events)}
                for r in part.sort_values(["source", "events"], ascending=[True, False]).itertuples()
            ]
    for source in EVENT_SOURCES:
        quarantine = lake.read_range(catalog.quarantine(source), first, last, columns=["failed_checks"])
        if quarantine is None or quarantine.num_rows == 0:
            continue
        checks = quarantine.to_pandas()["failed_checks"].fillna("unknown").str.split(",").explode().str.strip()
        for check, n in checks.value_counts().items():
            out["quarantined"].append({"source": source, "reason": check, "events": int(n)})
    return out


def _rules(lake: Lake, first: date, last: date) -> list[dict]:
    table = lake.read_range(catalog.IDENTITY_RULES, first, last, columns=["rule", "count"])
    if table is None or table.num_rows == 0:
        return []
    frame = table.to_pandas().groupby("rule")["count"].agg(["size", "sum"]).reset_index()
    return [
        {"rule": r.rule, "firings": int(r.size), "identifiers": int(r.sum)}
        for r in frame.sort_values("size", ascending=False).itertuples()
    ]


def _task_runs(task_runs: dict | None) -> dict:
    info = dict(task_runs or NOT_IN_AIRFLOW)
    runs = [{**r, "key": f"{r.get('dag_id')}/{r.get('run_id')}/{r.get('task_id')}"} for r in info.get("runs") or []]
    info["runs"] = runs
    info["failed"] = [r for r in runs if r.get("state") in ("failed", "upstream_failed")]
    info["retried"] = [r for r in runs if int(r.get("try_number") or 0) > 1]
    info["task_runs"] = len(runs)
    return info


def data_quality(lake: Lake, warehouse_url: str, first: date, last: date, task_runs: dict | None) -> dict:
    runs = read_table(warehouse_url, sa.select(pipeline_runs).where(pipeline_runs.c.day.between(first, last)))
    held = runs[runs["gate_status"] == "held"]
    return {
        "days_published": len(runs),
        "per_source": _per_source(runs),
        "reasons": _reasons(lake, first, last),
        "identity_rules": _rules(lake, first, last),
        "gate_held_days": sorted(pd.to_datetime(held["day"]).dt.date.astype(str).tolist()),
        "unbalanced_days": sorted(
            pd.to_datetime(runs.loc[~runs["reconciled"].astype(bool), "day"]).dt.date.astype(str).tolist()
        ),
        "task_runs": _task_runs(task_runs),
    }
