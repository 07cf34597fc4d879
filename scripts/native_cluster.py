"""The docker-compose topology without Docker: a CeleryExecutor Airflow cluster on loopback.

Starts, with one temporary AIRFLOW_HOME and PYTHONPATH set to the project root:
  * the metadata database: a fresh database on the local PostgreSQL (created here, dropped at the end)
  * the Celery broker: a Redis database number of its own (claimed here, flushed at the end)
  * the Celery result backend: the same PostgreSQL database
  * airflow api-server (free port), scheduler, dag-processor and two `airflow celery worker`s
    (hostnames worker-1 / worker-2, queue `default`; each task instance records its worker)
then waits until they are healthy. Everything is stopped (process groups: SIGTERM, then SIGKILL)
and cleaned up whatever happens: context manager, atexit, SIGTERM/SIGINT in the CLI.

    PYTHONPATH=. .venv/bin/python -m scripts.native_cluster run --date 2026-11-20   # one day, report, stop
    PYTHONPATH=. .venv/bin/python -m scripts.native_cluster up                      # start; Ctrl-C stops
    PYTHONPATH=. .venv/bin/python -m scripts.native_cluster trigger --api URL --date D  # on a running cluster

Tasks see the caller's ENGAGEMENT_* variables (landing, CRM, lake, warehouse, alert channels).
Services: NATIVE_CLUSTER_PG (admin URL, default postgresql://postgres@127.0.0.1:5432/test) and
NATIVE_CLUSTER_REDIS (default redis://127.0.0.1:6379).
"""

# This module is the command line. The cluster is scripts/native_cluster_processes.py (the services'
# processes) on scripts/native_cluster_resources.py (home, databases, environment; what workers import).
from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from datetime import date

from scripts.airflow_rest import AirflowRest
from scripts.native_cluster_processes import NativeCluster, Service, run_day
from scripts.native_cluster_resources import (
    DAG_ID,
    DEFAULT_WORKERS,
    ROOT,
    SERVICES,
    USER,
    WORKER_ENV,
    WORKER_SERVICE,
    free_port,
    worker_hostname,
)

#: The names this module had before the split, for callers (tests, docs) that import them from here.
__all__ = [
    "DAG_ID",
    "DEFAULT_WORKERS",
    "ROOT",
    "SERVICES",
    "USER",
    "WORKER_ENV",
    "WORKER_SERVICE",
    "NativeCluster",
    "Service",
    "free_port",
    "main",
    "report",
    "run_day",
    "trigger_and_report",
    "worker_hostname",
]


def report(run: dict, tasks: list[dict]) -> str:
    lines = [
        f"{run['dag_id']} {run['dag_run_id']}: {run['state']}",
        f"  {'task':<22} {'state':<16} {'worker':<18} try  seconds",
    ]
    for ti in sorted(tasks, key=lambda t: (t.get("start_date") or "", t["task_id"])):
        seconds = f"{ti['duration']:.1f}" if ti.get("duration") is not None else "-"
        lines.append(
            f"  {ti['task_id']:<22} {str(ti['state']):<16} {str(ti.get('hostname') or '-'):<18} "
            f"{ti.get('try_number', '-'):>3}  {seconds:>7}"
        )
    return "\n".join(lines)


def trigger_and_report(api: AirflowRest, day: date, timeout: float) -> int:
    run, tasks = run_day(api, day, timeout)
    print(report(run, tasks), flush=True)
    return 0 if run["state"] == "success" else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run_p = sub.add_parser("run", help="start, run engagement_daily for one day, report, stop")
    up_p = sub.add_parser("up", help="start and keep running until Ctrl-C")
    trigger_p = sub.add_parser("trigger", help="run one day on a running cluster (this one's `up`, or docker compose)")
    for p in (run_p, trigger_p):
        p.add_argument("--date", required=True, type=date.fromisoformat, help="the day D to process (YYYY-MM-DD)")
        p.add_argument("--timeout", type=float, default=600, help="seconds to wait for the run (default 600)")
    for p in (run_p, up_p):
        p.add_argument("--workers", type=int, default=DEFAULT_WORKERS)
        p.add_argument("--concurrency", type=int, default=2, help="task slots per worker")
        p.add_argument("--keep-home", action="store_true", help="keep the AIRFLOW_HOME (logs) after stopping")
    trigger_p.add_argument("--api", default="http://127.0.0.1:8080", help="api-server URL")
    trigger_p.add_argument("--user", default=USER)
    trigger_p.add_argument("--password-env", default="AIRFLOW_API_PASSWORD", help="variable holding the password")
    args = parser.parse_args(argv)
    if args.command == "trigger":
        return trigger_and_report(
            AirflowRest(args.api, args.user, os.environ.get(args.password_env, "")), args.date, args.timeout
        )

    def on_signal(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    cluster = NativeCluster(workers=args.workers, concurrency=args.concurrency, keep_home=args.keep_home)
    print(f"starting: AIRFLOW_HOME={cluster.home}, metadata database {cluster.db_name}", flush=True)
    with cluster:
        print(f"healthy: API {cluster.api.base_url} (user {USER})", flush=True)
        if args.command == "up":
            print(
                f"  AIRFLOW_API_PASSWORD={cluster.password} python -m scripts.native_cluster trigger --api "
                f"{cluster.api.base_url} --date YYYY-MM-DD",
                flush=True,
            )
            while True:
                time.sleep(3600)
        return trigger_and_report(cluster.api, args.date, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
