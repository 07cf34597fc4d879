"""One generated day through the real DAG on the native Celery cluster, sharded: wall time and
each task's seconds, worker and peak memory.

    PYTHONPATH=. .venv/bin/python -m benchmarks.cluster_day --name day20m --volume 85 --shards 4

Builds the day once (cached in benchmarks/.work/<name>, like the harness's days), starts the
cluster of scripts/native_cluster.py (PostgreSQL metadata, Redis broker, `--workers` Celery workers
with `--concurrency` task slots each), triggers engagement_daily for the day with `scale.shards`
set, and waits. The warehouse is a throwaway PostgreSQL database, the CRM the workload's SQLite
file, mail the outbox folder. Each task's peak memory is the line its log ends with
(include/airflow_glue/dag_support.py:log_peak_memory), read from the workers' log files before
the cluster's home is removed. Writes benchmarks/results/cluster_<name>.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import tempfile
from datetime import datetime
from pathlib import Path

import yaml

from benchmarks.provenance import measured
from benchmarks.run import DAY, RESULTS, PostgresDatabase, raw_event_count
from benchmarks.workloads import day_workload
from include.airflow_glue.dag_support import PEAK_MEMORY_LABEL
from include.scoring.core.config import DEFAULT_CONFIG_PATH
from include.scoring.lake.store import Lake

log = logging.getLogger("benchmarks.cluster_day")
PEAK = re.compile(re.escape(PEAK_MEMORY_LABEL) + r" ([\d,]+) MB")
TASK_DIR = re.compile(r"task_id=([^/]+)(?:/map_index=(-?\d+))?/attempt=(\d+)\.log$")


def sharded_config(folder: Path, shards: int) -> Path:
    """The embedded config with `scale.shards` set (what an operator changes for a big day)."""
    raw = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    raw.setdefault("scale", {})["shards"] = shards
    path = folder / f"engagement-{shards}-shards.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def peak_memory_of_tasks(home: Path) -> dict[tuple[str, int, int], int]:
    """(task_id, map_index, try) -> the peak memory its log ends with, from the workers' log files."""
    peaks = {}
    for path in (home / "logs").rglob("attempt=*.log"):
        where = TASK_DIR.search(path.as_posix())
        found = PEAK.findall(path.read_text(errors="replace"))
        if where and found:
            task_id, index, attempt = where.group(1), int(where.group(2) or -1), int(where.group(3))
            peaks[(task_id, index, attempt)] = int(found[-1].replace(",", ""))
    return peaks


def _seconds_between(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return round((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds(), 1)


def run_on_cluster(
    name: str, accounts: int, volume: float, shards: int, workers: int, concurrency: int, timeout: float
):
    from include.scoring.publish.stage import init_crm
    from scripts.native_cluster import NativeCluster, report

    folder = day_workload(name, accounts, volume, DAY)
    sample, lake_dir = folder / "sample", folder / "cluster-lake"
    shutil.rmtree(lake_dir, ignore_errors=True)
    crm_url = f"sqlite:///{(sample / 'crm.sqlite').resolve()}"
    init_crm(crm_url)
    with tempfile.TemporaryDirectory(prefix="cluster-day-") as tmp, PostgresDatabase() as warehouse:
        env = {
            "ENGAGEMENT_LANDING": str((sample / "landing").resolve()),
            "ENGAGEMENT_CRM_URL": crm_url,
            "ENGAGEMENT_LAKE": str(lake_dir.resolve()),
            "ENGAGEMENT_WAREHOUSE_URL": warehouse,
            "ENGAGEMENT_CONFIG": str(sharded_config(Path(tmp), shards)),
            "ENGAGEMENT_HOME": tmp,
        }
        cluster = NativeCluster(workers=workers, concurrency=concurrency, env=env, keep_home=True)
        try:
            with cluster:
                run, tasks = cluster.run_day(DAY, timeout=timeout)
            print(report(run, tasks), flush=True)
            peaks = peak_memory_of_tasks(cluster.home)
        finally:
            shutil.rmtree(cluster.home, ignore_errors=True)
    events = raw_event_count(Lake(str(lake_dir)))
    rows = [
        {
            "task": t["task_id"],
            "map_index": t.get("map_index", -1),
            "state": t["state"],
            "worker": t.get("hostname"),
            "seconds": round(t["duration"], 1) if t.get("duration") is not None else None,
            "peak_rss_mb": peaks.get((t["task_id"], t.get("map_index", -1), t.get("try_number", 1))),
        }
        for t in sorted(tasks, key=lambda t: (t.get("start_date") or "", t["task_id"], t.get("map_index", -1)))
    ]
    return {
        "name": name,
        "accounts": accounts,
        "volume": volume,
        "events": events,
        "shards": shards,
        "workers": workers,
        "concurrency": concurrency,
        "state": run["state"],
        "wall_seconds": _seconds_between(run.get("start_date"), run.get("end_date")),
        "task_seconds": round(sum(r["seconds"] or 0.0 for r in rows), 1),
        "tasks": rows,
        "workload": json.loads((folder / "built.json").read_text()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", default="day20m", help="the workload's folder under benchmarks/.work")
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--volume", type=float, default=85.0, help="the generator's volume (85: about 20M events)")
    parser.add_argument("--shards", type=int, default=4, help="scale.shards for the run")
    parser.add_argument("--workers", type=int, default=2, help="Celery workers")
    parser.add_argument("--concurrency", type=int, default=1, help="task slots per worker")
    parser.add_argument("--timeout", type=float, default=3 * 3600, help="seconds to wait for the run")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    result = run_on_cluster(
        args.name, args.accounts, args.volume, args.shards, args.workers, args.concurrency, args.timeout
    )
    result["measured"] = measured()
    result["load_average_after"] = [round(x, 1) for x in os.getloadavg()]
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"cluster_{args.name}.json"
    out.write_text(json.dumps(result, indent=2))
    log.info("%s: %s in %s s wall clock; written %s", args.name, result["state"], result["wall_seconds"], out)
    if result["state"] != "success":
        raise SystemExit(1)


if __name__ == "__main__":
    main()
