"""The native cluster's processes: start the Airflow services and Celery workers, wait until they
are healthy, and stop them (process groups: SIGTERM, then SIGKILL) whatever happens.

The resources they run on (home, databases, environment) are scripts/native_cluster_resources.py;
the command line is scripts/native_cluster.py.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from scripts.airflow_rest import AirflowRest, ApiError
from scripts.native_cluster_resources import (
    DAG_ID,
    DEFAULT_WORKERS,
    ROOT,
    SERVICES,
    USER,
    WORKER_ENV,
    WORKER_SERVICE,
    ClusterResources,
)

#: Exec wrapper: the service gets SIGTERM when the process that started it dies, even by SIGKILL
#: (Linux PR_SET_PDEATHSIG survives exec); elsewhere it just execs. No preexec_fn: unsafe with threads.
_DIE_WITH_PARENT = (
    "import ctypes, os, signal, sys\n"
    "try:\n    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)\nexcept Exception:\n    pass\n"
    "if os.getppid() != int(sys.argv[1]):\n    sys.exit(1)\n"
    "os.execv(sys.argv[2], sys.argv[2:])\n"
)


@dataclass
class Service:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None
    log_path: Path | None = None


class NativeCluster(ClusterResources):
    def __init__(
        self,
        workers: int = DEFAULT_WORKERS,
        concurrency: int = 2,
        env: dict[str, str] | None = None,
        keep_home: bool = False,
    ):
        super().__init__(workers, concurrency, env, keep_home)
        self.services: list[Service] = []
        self._stopped = False

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
        self.acquire_stores()
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
                "AIRFLOW__CORE__HOSTNAME_CALLABLE": "scripts.native_cluster_resources.worker_hostname",
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
        self.release_stores()
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
