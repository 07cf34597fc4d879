"""What one native cluster owns besides its processes, and the environment its processes get.

A temporary AIRFLOW_HOME, a free api-server port, fresh secrets, a PostgreSQL metadata database
and a Redis database number (the Celery broker), all named after the owning process so that
`reap_stale` can clean up after an owner killed with SIGKILL. Kept apart from the process
management (scripts/native_cluster_processes.py) because the Celery workers import
`worker_hostname` from here: standard library only at import time.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import socket
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from scripts.airflow_rest import AirflowRest

ROOT = Path(__file__).resolve().parents[1]
DAG_ID = "engagement_daily"
WORKER_ENV = "NATIVE_CLUSTER_WORKER"
USER = "ops"
#: What the cluster starts, named as in docker-compose.yaml (whose `worker` service has as many
#: replicas as DEFAULT_WORKERS; tests/unit/ops/test_compose.py keeps the two in step).
SERVICES = ("api-server", "scheduler", "dag-processor")
WORKER_SERVICE = "worker"
DEFAULT_WORKERS = 2

_STALE_DB = re.compile(r"^airflow_native_(\d+)_[0-9a-f]{8}$")


def worker_hostname() -> str:
    """`[core] hostname_callable` of the workers: the name recorded on the task instances they run."""
    return os.environ.get(WORKER_ENV) or socket.getfqdn()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ClusterResources:
    """The home, port, secrets, metadata database and broker database of one cluster."""

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
        self._db_created = False
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

    def acquire_stores(self) -> None:
        """Reap what dead owners left, then create this cluster's database and claim its Redis number."""
        self.reap_stale()
        self._create_database()
        self._claim_redis_db()

    def release_stores(self) -> None:
        """Drop the database and flush Redis; a failure is reported and the other still runs."""
        for cleanup in (self._drop_database, self._release_redis_db):
            try:
                cleanup()
            except Exception as exc:  # noqa: BLE001 - keep cleaning up
                print(f"native cluster: cleanup {cleanup.__name__} failed: {exc}", file=sys.stderr)

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
