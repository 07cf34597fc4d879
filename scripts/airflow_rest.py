"""A small client for the Airflow 3 REST API (api-server), standard library only.

Authentication is the SimpleAuthManager's: POST /auth/token with a configured user's name and
password returns a JWT, sent as `Authorization: Bearer ...` on every /api/v2 call.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any
from urllib.parse import quote

FINISHED = {"success", "failed"}


class ApiError(RuntimeError):
    pass


class AirflowRest:
    def __init__(self, base_url: str, username: str, password: str, timeout: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.username, self._password = username, password
        self.timeout = timeout
        self._token: str | None = None

    def _request(self, method: str, path: str, body: Any = None, auth: bool = True) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self.token()}"
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - loopback API
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raise ApiError(f"{method} {path}: HTTP {exc.code}: {exc.read()[:500].decode(errors='replace')}") from None
        return json.loads(raw) if raw else None

    def token(self) -> str:
        if self._token is None:
            answer = self._request(
                "POST", "/auth/token", {"username": self.username, "password": self._password}, auth=False
            )
            self._token = answer["access_token"]
        return self._token

    def health(self) -> dict:
        return self._request("GET", "/api/v2/monitor/health", auth=False)

    def dag(self, dag_id: str) -> dict:
        return self._request("GET", f"/api/v2/dags/{quote(dag_id)}")

    def import_errors(self) -> list[dict]:
        return self._request("GET", "/api/v2/importErrors")["import_errors"]

    def unpause(self, dag_id: str) -> None:
        self._request("PATCH", f"/api/v2/dags/{quote(dag_id)}", {"is_paused": False})

    def trigger_day(self, dag_id: str, day: date) -> str:
        """Trigger the run that processes day D: logical date D+1 02:00 UTC covers the interval of D."""
        logical = datetime.combine(day + timedelta(days=1), dtime(2), tzinfo=UTC)
        run = self._request(
            "POST", f"/api/v2/dags/{quote(dag_id)}/dagRuns", {"logical_date": logical.isoformat(), "conf": {}}
        )
        return run["dag_run_id"]

    def dag_run(self, dag_id: str, run_id: str) -> dict:
        return self._request("GET", f"/api/v2/dags/{quote(dag_id)}/dagRuns/{quote(run_id, safe='')}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        answer = self._request(
            "GET", f"/api/v2/dags/{quote(dag_id)}/dagRuns/{quote(run_id, safe='')}/taskInstances?limit=1000"
        )
        return answer["task_instances"]

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float, poll: float = 2.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            run = self.dag_run(dag_id, run_id)
            if run["state"] in FINISHED:
                return run
            if time.monotonic() > deadline:
                raise TimeoutError(f"{dag_id} run {run_id} still {run['state']} after {timeout:.0f}s")
            time.sleep(poll)

    def create_backfill(self, dag_id: str, first: date, last: date, max_active_runs: int = 1) -> dict:
        """Airflow's backfill of days first..last (the DAG's logical dates are the days, 02:00 UTC)."""
        body = {
            "dag_id": dag_id,
            "from_date": datetime.combine(first, dtime(0), tzinfo=UTC).isoformat(),
            "to_date": datetime.combine(last, dtime(23, 59), tzinfo=UTC).isoformat(),
            "max_active_runs": max_active_runs,
            "reprocess_behavior": "none",
            "run_backwards": False,
            "dag_run_conf": {},
        }
        return self._request("POST", "/api/v2/backfills", body)

    def backfill(self, backfill_id: int) -> dict:
        return self._request("GET", f"/api/v2/backfills/{backfill_id}")

    def dag_runs(self, dag_id: str) -> list[dict]:
        answer = self._request("GET", f"/api/v2/dags/{quote(dag_id)}/dagRuns?limit=1000&order_by=logical_date")
        return answer["dag_runs"]

    def wait_for_backfill(self, dag_id: str, backfill_id: int, timeout: float, poll: float = 5.0) -> list[dict]:
        """Wait until every run of the backfill finished; returns them in logical-date order."""
        deadline = time.monotonic() + timeout
        while True:
            runs = [r for r in self.dag_runs(dag_id) if r.get("run_type") == "backfill"]
            if runs and all(r["state"] in FINISHED for r in runs) and self.backfill(backfill_id).get("completed_at"):
                return runs
            if time.monotonic() > deadline:
                states = {r["dag_run_id"]: r["state"] for r in runs}
                raise TimeoutError(f"{dag_id} backfill {backfill_id} not finished after {timeout:.0f}s: {states}")
            time.sleep(poll)
