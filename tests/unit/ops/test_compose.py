"""docker-compose.yaml is a valid Compose file and agrees with the project: Airflow pin, executor,
the native cluster's services, the environment the code reads, the mounts and the warehouse."""

from __future__ import annotations

import copy
import json
import re
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml

from scripts.native_cluster import DEFAULT_WORKERS, SERVICES, WORKER_SERVICE

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yaml").read_text(encoding="utf-8"))
SERVICES_IN_COMPOSE = COMPOSE["services"]
#: Services running the project's image (built from the Dockerfile).
AIRFLOW_SERVICES = {name: svc for name, svc in SERVICES_IN_COMPOSE.items() if "build" in svc}


def compose_schema() -> dict:
    """The Compose specification schema as vendored by check-jsonschema."""
    text = (resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json").read_text(
        encoding="utf-8"
    )
    return json.loads(text)


def schema_errors(document: dict) -> list[str]:
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in validator.iter_errors(document)]


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def test_compose_file_follows_the_compose_specification():
    assert schema_errors(COMPOSE) == []


def test_the_schema_check_catches_a_broken_file():
    broken = copy.deepcopy(COMPOSE)
    broken["services"]["scheduler"]["healthcheck"] = {"test": ["CMD", "true"], "intervall": "30s"}
    broken["services"]["worker"]["depends_on"] = "api-server"
    errors = schema_errors(broken)
    assert any("intervall" in e for e in errors) and any(e.startswith("services/worker/depends_on") for e in errors), (
        errors
    )


def test_image_extends_the_pinned_airflow_on_the_project_python():
    pin = re.search(r"^apache-airflow(?:\[[^\]]*\])?==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M).group(1)
    base = re.search(r"^FROM\s+(\S+)", (ROOT / "Dockerfile").read_text(), re.M).group(1)
    assert base == f"apache/airflow:{pin}-python3.11", base
    assert ">=3.11,<3.12" in (ROOT / "pyproject.toml").read_text()
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "-r /opt/airflow/deps/requirements.txt -c /opt/airflow/deps/constraints.txt" in dockerfile
    for name, svc in AIRFLOW_SERVICES.items():
        assert svc["build"]["dockerfile"] == "Dockerfile" and svc["image"].endswith(f":{pin}"), name


def test_celery_executor_with_redis_broker_and_postgres_backend():
    assert set(AIRFLOW_SERVICES) >= {"airflow-init", "api-server", "scheduler", "dag-processor", "triggerer", "worker"}
    for name, svc in AIRFLOW_SERVICES.items():
        env = environment(svc)
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:6379/"), name
        assert re.match(r"db\+postgresql://[^@]+@postgres:5432/airflow$", env["AIRFLOW__CELERY__RESULT_BACKEND"]), name
        assert re.match(
            r"postgresql\+psycopg2://[^@]+@postgres:5432/airflow$", env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        ), name
        assert env["PYTHONPATH"] == "/opt/airflow", name


def test_every_native_cluster_service_is_in_compose_and_every_service_has_a_healthcheck():
    for name in SERVICES:
        assert name in SERVICES_IN_COMPOSE, name
    assert SERVICES_IN_COMPOSE[WORKER_SERVICE]["deploy"]["replicas"] == DEFAULT_WORKERS
    assert {"postgres", "redis", "mailpit"} <= set(SERVICES_IN_COMPOSE)
    assert SERVICES_IN_COMPOSE["mailpit"]["image"].startswith("axllent/mailpit:")
    for name, svc in SERVICES_IN_COMPOSE.items():
        assert svc.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    assert (
        SERVICES_IN_COMPOSE["api-server"]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
    )


ENV_READ = re.compile(
    r"""os\.environ(?:\.get)?[(\[]\s*["'](ENGAGEMENT_[A-Z0-9_]+)["']|["'](ENGAGEMENT_[A-Z0-9_]+)["']\s+in\s+os\.environ"""
)


def engagement_variables() -> set[str]:
    """Every ENGAGEMENT_* variable the pipeline reads from os.environ (settings, notifier, DAG support)."""
    names = set()
    for path in (ROOT / "include").rglob("*.py"):
        names |= {a or b for a, b in ENV_READ.findall(path.read_text(encoding="utf-8"))}
    return names


def test_the_environment_the_code_reads_is_set_for_every_airflow_service():
    from include.airflow_glue.dag_support import CRM_CONN_ID, SMTP_CONN_ID, WAREHOUSE_CONN_ID

    names = engagement_variables()
    assert {"ENGAGEMENT_LAKE", "ENGAGEMENT_LANDING", "ENGAGEMENT_CONFIG", "ENGAGEMENT_ALERT_EMAILS"} <= names
    connections = {f"AIRFLOW_CONN_{c.upper()}" for c in (CRM_CONN_ID, WAREHOUSE_CONN_ID, SMTP_CONN_ID)}
    covered_by_connection = {"ENGAGEMENT_SMTP_URL": f"AIRFLOW_CONN_{SMTP_CONN_ID.upper()}"}
    for name, svc in AIRFLOW_SERVICES.items():
        env = environment(svc)
        missing = {n for n in names if n not in env and covered_by_connection.get(n) not in env}
        assert not missing, f"{name} lacks {sorted(missing)}"
        assert connections <= set(env), f"{name} lacks {sorted(connections - set(env))}"


def test_project_folders_and_the_lake_are_mounted():
    volumes = set(COMPOSE["x-airflow-common"]["volumes"])
    assert {"./dags:/opt/airflow/dags", "./include:/opt/airflow/include", "./plugins:/opt/airflow/plugins"} <= volumes
    lake = environment(SERVICES_IN_COMPOSE["worker"])["ENGAGEMENT_LAKE"]
    named = {v.split(":")[0]: v.split(":")[1] for v in volumes if not v.startswith((".", "$"))}
    assert any(
        lake == target or lake.startswith(target + "/")
        for source, target in named.items()
        if source in COMPOSE["volumes"]
    ), (lake, named)
    for name, svc in AIRFLOW_SERVICES.items():
        assert set(svc["volumes"]) == volumes, name


def test_warehouse_database_is_created_and_used():
    init = SERVICES_IN_COMPOSE["postgres"]["volumes"]
    mounts = [v for v in init if "/docker-entrypoint-initdb.d/" in v]
    assert mounts, init
    script = ROOT / mounts[0].split(":")[0]
    assert re.search(r"CREATE DATABASE engagement_warehouse\b", script.read_text(), re.I)
    warehouse = environment(SERVICES_IN_COMPOSE["scheduler"])["AIRFLOW_CONN_ENGAGEMENT_WAREHOUSE"]
    assert re.search(r"@postgres:5432/engagement_warehouse\}?$", warehouse), warehouse


@pytest.mark.parametrize("service", ["airflow-init", "worker"])
def test_init_and_worker_commands(service):
    command = SERVICES_IN_COMPOSE[service]["command"]
    text = " ".join(command) if isinstance(command, list) else command
    if service == "airflow-init":
        assert "airflow db migrate" in text and "airflow connections add" in text
        for conn in ("engagement_warehouse", "engagement_crm", "engagement_smtp"):
            assert conn in text
    else:
        assert text.startswith("celery worker") and "--queues default" in text


def test_containers_run_as_the_host_user_and_write_no_host_owned_crm():
    """AIRFLOW_UID was hard-coded to 50000 while the host-owned sample CRM SQLite was mounted
    read-write: a "readonly database" on Linux, and a host `make demo` was needed first."""
    user = COMPOSE["x-airflow-common"]["user"]
    assert user.startswith("${AIRFLOW_UID:?") and user.endswith(":0"), user
    example = (ROOT / "compose.env.example").read_text(encoding="utf-8")
    assert "id -u" in example and "AIRFLOW_UID=50000" not in example
    host_mounts = [v for v in COMPOSE["x-airflow-common"]["volumes"] if v.startswith((".", "$", "/"))]
    assert sorted(m.split(":")[1] for m in host_mounts) == [
        "/opt/airflow/dags",
        "/opt/airflow/include",
        "/opt/airflow/plugins",
    ]
    env = environment(SERVICES_IN_COMPOSE["worker"])
    for var in ("AIRFLOW_CONN_ENGAGEMENT_CRM", "ENGAGEMENT_CRM_URL"):
        assert re.search(r"@postgres:5432/engagement_crm\}?$", env[var]), env[var]
    script = (ROOT / "deploy" / "postgres" / "init-engagement.sql").read_text()
    assert re.search(r"CREATE DATABASE engagement_crm\b", script, re.I)
    init = " ".join(SERVICES_IN_COMPOSE["airflow-init"]["command"])
    assert 'include.scoring generate --out /opt/airflow/sample --crm-url "$$ENGAGEMENT_CRM_URL"' in init
    assert "include.scoring init-crm" in init


def test_the_auth_manager_choice_is_documented():
    text = (ROOT / "docker-compose.yaml").read_text(encoding="utf-8")
    assert "SimpleAuthManager" in text and "not for production" in text and "Production needs" in text
