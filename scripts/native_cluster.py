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
NATIVE_CLUSTER_REDIS (default redis://127.0.0.1:6379). Standard library only at import time:
workers import `worker_hostname` from here.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from scripts.airflow_rest import AirflowRest, ApiError

ROOT = Path(__file__).resolve().parents[1]
DAG_ID = "engagement_daily"
WORKER_ENV = "NATIVE_CLUSTER_WORKER"
USER = "ops"
#: What this script starts, named as in docker-compose.yaml (whose `worker` service has as many
#: replicas as DEFAULT_WORKERS; tests/unit/test_compose.py keeps the two in step).
SERVICES = ("api-server", "scheduler", "dag-processor")
WORKER_SERVICE = "worker"
DEFAULT_WORKERS = 2


def worker_hostname() -> str:
    """`[core] hostname_callable` of the workers: the name recorded on the task instances they run."""
    return os.environ.get(WORKER_ENV) or socket.getfqdn()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: Exec wrapper: the service gets SIGTERM when the process that started it dies, even by SIGKILL
#: (Linux PR_SET_PDEATHSIG survives exec); elsewhere it just execs. No preexec_fn: unsafe with threads.
_DIE_WITH_PARENT = (
    "import ctypes, os, signal, sys\n"
    "try:\n    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)\nexcept Exception:\n    pass\n"
    "if os.getppid() != int(sys.argv[1]):\n    sys.exit(1)\n"
    "os.execv(sys.argv[2], sys.argv[2:])\n"
)


_STALE_DB = re.compile(r"^airflow_native_(\d+)_[0-9a-f]{8}$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class Service:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None
    log_path: Path | None = None


class NativeCluster:
    def __init__(
        self,
        workers: int = DEFAULT_WORKERS,
        concurrency: int = 2,
        env: dict[str, str] | None = None,
        keep_home: bool = False,
    ):
        self.workers, self.concurrency, self.keep_home = workers, concurrency, keep_home
        self.extra_env = dict(env or {})
        self.pg_admin = os.environ.get("NATIVE_CLUSTER_PG", "postgresql://postgres@127.0.0.1:5432/test")
        self.redis_url = os.environ.get("NATIVE_CLUSTER_REDIS", "redis://127.0.0.1:6379")
        self.token = secrets.token_hex(4)
        self.db_name = f"airflow_native_{os.getpid()}_{self.token}"
        self.redis_db: int | None = None
        self.home = Path(tempfile.mkdtemp(prefix="native-cluster-"))
        self.port = free_port()
        self.password = secrets.token_urlsafe(16)
        self.services: list[Service] = []
        self._db_created = False
        self._stopped = False
        self.api = AirflowRest(f"http://127.0.0.1:{self.port}", USER, self.password)

    # ---- metadata database and broker -------------------------------------------------------
    def _pg(self):
        import psycopg

        return psycopg.connect(self.pg_admin, autocommit=True, connect_timeout=5)

    def _db_url(self, scheme: str) -> str:
        parts = urlsplit(self.pg_admin)
        return urlunsplit((scheme, parts.netloc, f"/{self.db_name}", "", ""))

    def _create_database(self) -> None:
        with self._pg() as conn:
            conn.execute(f'CREATE DATABASE "{self.db_name}"')
        self._db_created = True

    def _drop_database(self) -> None:
        if not self._db_created:
            return
        with self._pg() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
        self._db_created = False

    def _redis(self, db: int):
        import redis

        return redis.Redis.from_url(f"{self.redis_url}/{db}", socket_timeout=5)

    def _claim_redis_db(self) -> None:
        """An empty Redis database number, claimed with a key only this cluster sets."""
        for db in range(15, 0, -1):
            client = self._redis(db)
            if client.dbsize() == 0 and client.set("native-cluster:claim", self.db_name, nx=True, ex=24 * 3600):
                self.redis_db = db
                return
        raise RuntimeError(f"no empty Redis database number at {self.redis_url} (1-15 all in use)")

    def _release_redis_db(self) -> None:
        if self.redis_db is not None:
            client = self._redis(self.redis_db)
            if client.get("native-cluster:claim") == self.db_name.encode():
                client.flushdb()
            self.redis_db = None

    def reap_stale(self) -> None:
        """Clean up after clusters whose owner died without stopping them (killed with SIGKILL):
        their databases, Redis claims and homes name the owner's process id."""
        with self._pg() as conn:
            names = [
                row[0] for row in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'airflow_native_%'")
            ]
            for name in names:
                match = _STALE_DB.match(name)
                if match and not _alive(int(match.group(1))):
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        for db in range(1, 16):
            client = self._redis(db)
            match = _STALE_DB.match((client.get("native-cluster:claim") or b"").decode())
            if match and not _alive(int(match.group(1))):
                client.flushdb()
        for owner in Path(tempfile.gettempdir()).glob("native-cluster-*/owner.pid"):
            with contextlib.suppress(ValueError, OSError):
                if not _alive(int(owner.read_text())):
                    shutil.rmtree(owner.parent, ignore_errors=True)

    # ---- configuration ------------------------------------------------------------------------
    def environment(self) -> dict[str, str]:
        """The caller's environment without its Airflow config, plus this cluster's."""
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("AIRFLOW__") and k not in ("AIRFLOW_HOME", "AIRFLOW_CONFIG")
        }
        from cryptography.fernet import Fernet

        base = f"http://127.0.0.1:{self.port}"
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self._db_url("postgresql+psycopg2"),
                "AIRFLOW__CELERY__BROKER_URL": f"{self.redis_url}/{self.redis_db}",
                "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + self._db_url("postgresql"),
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.concurrency),
                # workers import the task libraries once, before forking (include/airflow_glue/celery_config.py)
                "AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS": "include.airflow_glue.celery_config.CELERY_CONFIG",
                "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
                "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base}/execution/",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.home / "passwords.json"),
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.port),
                "AIRFLOW__API__BASE_URL": base,
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
                # Runs are triggered through the REST API; no interval is scheduled on its own.
                "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
                "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
                "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
                "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
            }
        )
        env.update(self.extra_env)
        return env

    # ---- processes ----------------------------------------------------------------------------
    def _start(self, service: Service, env: dict[str, str]) -> None:
        service.log_path = self.home / "service-logs" / f"{service.name}.log"
        service.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(service.log_path, "ab") as log:
            argv = [sys.executable, "-c", _DIE_WITH_PARENT, str(os.getpid()), *service.argv]
            service.process = subprocess.Popen(
                argv,
                env={**env, **service.env},
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.services.append(service)

    def _airflow(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "airflow", *args]

    def start(self, timeout: float = 240.0) -> NativeCluster:
        atexit.register(self.stop)
        t0 = time.monotonic()
        (self.home / "owner.pid").write_text(str(os.getpid()))
        self.reap_stale()
        self._create_database()
        self._claim_redis_db()
        env = self.environment()
        (self.home / "passwords.json").write_text(json.dumps({USER: self.password}))
        migrate = subprocess.run(
            self._airflow("db", "migrate"), env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout
        )
        if migrate.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed:\n{migrate.stdout[-2000:]}\n{migrate.stderr[-3000:]}")
        commands = {
            "api-server": ["api-server", "--port", str(self.port), "--host", "127.0.0.1"],
            "scheduler": ["scheduler"],
            "dag-processor": ["dag-processor"],
        }
        for name in SERVICES:
            self._start(Service(name, self._airflow(*commands[name])), env)
        for n in range(1, self.workers + 1):
            name = f"{WORKER_SERVICE}-{n}"
            argv = self._airflow(
                "celery",
                "worker",
                "--celery-hostname",
                f"{name}@%h",
                "--queues",
                "default",
                "--concurrency",
                str(self.concurrency),
                "--pid",
                str(self.home / f"{name}.pid"),
                "--skip-serve-logs",
                "--without-mingle",
                "--without-gossip",
            )
            worker_env = {
                WORKER_ENV: name,
                "AIRFLOW__CORE__HOSTNAME_CALLABLE": "scripts.native_cluster.worker_hostname",
            }
            self._start(Service(name, argv, worker_env), env)
        self.wait_healthy(timeout - (time.monotonic() - t0))
        return self

    def _check_alive(self) -> None:
        for service in self.services:
            if service.process and service.process.poll() is not None:
                raise RuntimeError(
                    f"{service.name} exited with status {service.process.returncode}:\n{self.tail(service.name)}"
                )

    def tail(self, name: str, chars: int = 3000) -> str:
        service = next(s for s in self.services if s.name == name)
        return (
            service.log_path.read_text(errors="replace")[-chars:]
            if service.log_path and service.log_path.exists()
            else ""
        )

    def _celery_workers(self) -> set[str]:
        from celery import Celery

        app = Celery(broker=f"{self.redis_url}/{self.redis_db}")
        try:
            return {name for reply in app.control.ping(timeout=1.0) or [] for name in reply}
        finally:
            app.close()

    def _not_ready(self) -> str | None:
        """What the cluster still waits for, or None when it is ready."""
        try:
            health = self.api.health()
        except (OSError, ApiError):
            return "the api-server"
        unhealthy = [
            c
            for c in ("metadatabase", "scheduler", "dag_processor")
            if (health.get(c) or {}).get("status") != "healthy"
        ]
        if unhealthy:
            return f"health of {', '.join(unhealthy)}"
        expected = {f"{WORKER_SERVICE}-{n}@{socket.gethostname()}" for n in range(1, self.workers + 1)}
        try:
            missing = expected - self._celery_workers()
        except Exception:  # noqa: BLE001 - broker not answering yet
            return "the Celery broker"
        if missing:
            return f"celery workers {sorted(missing)}"
        errors = self.api.import_errors()
        if errors:
            raise RuntimeError(f"DAG import errors: {errors}")
        try:
            self.api.dag(DAG_ID)
        except ApiError:
            return f"the dag-processor to parse {DAG_ID}"
        return None

    def wait_healthy(self, timeout: float) -> None:
        """api-server up, scheduler and dag-processor heartbeating, every worker answering, DAG parsed."""
        deadline = time.monotonic() + max(timeout, 10)
        while True:
            self._check_alive()
            waiting = self._not_ready()
            if waiting is None:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"cluster not healthy after {timeout:.0f}s; still waiting for {waiting}")
            time.sleep(1.0)

    def stop(self, grace: float = 20.0) -> None:
        """Stop every process group (SIGTERM, then SIGKILL), drop the database, flush Redis."""
        if self._stopped:
            return
        self._stopped = True
        for service in reversed(self.services):
            if service.process and service.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(service.process.pid, signal.SIGTERM)
        end = time.monotonic() + grace
        for service in reversed(self.services):
            if not service.process:
                continue
            try:
                service.process.wait(timeout=max(0.1, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            with contextlib.suppress(ProcessLookupError):
                os.killpg(service.process.pid, signal.SIGKILL)  # stragglers in the group, if any
            with contextlib.suppress(subprocess.TimeoutExpired):
                service.process.wait(timeout=5)
        for cleanup in (self._drop_database, self._release_redis_db):
            try:
                cleanup()
            except Exception as exc:  # noqa: BLE001 - keep cleaning up
                print(f"native cluster: cleanup {cleanup.__name__} failed: {exc}", file=sys.stderr)
        if self.keep_home:
            (self.home / "owner.pid").unlink(missing_ok=True)  # kept on purpose: not for reaping
            print(f"native cluster: kept {self.home} (service-logs/, logs/)", file=sys.stderr)
        else:
            shutil.rmtree(self.home, ignore_errors=True)
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)

    def __enter__(self) -> NativeCluster:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- runs -------------------------------------------------------------------------------
    def run_day(self, day: date, timeout: float = 300.0) -> tuple[dict, list[dict]]:
        """Trigger engagement_daily for day D through the REST API, wait for it, return the run
        and its task instances (task_id, state, hostname = the worker that ran it, ...)."""
        return run_day(self.api, day, timeout)


def run_day(api: AirflowRest, day: date, timeout: float) -> tuple[dict, list[dict]]:
    api.unpause(DAG_ID)
    run_id = api.trigger_day(DAG_ID, day)
    print(f"triggered {DAG_ID} {run_id} for {day}; waiting up to {timeout:.0f}s", flush=True)
    run = api.wait_for_run(DAG_ID, run_id, timeout)
    return run, api.task_instances(DAG_ID, run_id)


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
