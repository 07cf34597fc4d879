"""Shared test setup: an isolated Airflow home and engagement home, generated samples, services.

Airflow reads its configuration when first imported, so the environment is set here, before any
test module imports it. Nothing a test writes lands in the user's home directory or in .local/.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parents[1]
_SESSION_DIR = Path(tempfile.mkdtemp(prefix="engagement-tests-"))
os.environ["ENGAGEMENT_HOME"] = str(_SESSION_DIR / "home")
os.environ["AIRFLOW_HOME"] = str(_SESSION_DIR / "airflow")
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(ROOT / "plugins")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT"] = "120"
os.environ.setdefault("PYTHONPATH", str(ROOT))
for var in (
    "ENGAGEMENT_LANDING",
    "ENGAGEMENT_CRM_URL",
    "ENGAGEMENT_LAKE",
    "ENGAGEMENT_WAREHOUSE_URL",
    "ENGAGEMENT_CONFIG",
):
    os.environ.pop(var, None)

IN_CI = os.environ.get("CI", "").lower() == "true"

# Hypothesis profiles. `ci` (the default: `make test`, CI=true, a plain pytest) draws the same
# examples on every run, so an unchanged tree never fails at random; exploration is `make fuzz`
# (the `fuzz` profile: random draws, more examples, bounded by time in scripts/fuzz.py). What fuzz
# finds becomes an explicit @example next to the property it broke.
settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    print_blob=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "fuzz",
    derandomize=False,
    database=None,
    print_blob=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
HYPOTHESIS_PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
FUZZ_FACTOR = int(os.environ.get("ENGAGEMENT_FUZZ_FACTOR", "2"))
settings.load_profile(HYPOTHESIS_PROFILE)


def examples(n: int) -> int:
    """A property's number of examples: `n` under the deterministic `ci` profile, more under `fuzz`
    (a test's own max_examples would otherwise override the profile's)."""
    return n * FUZZ_FACTOR if HYPOTHESIS_PROFILE == "fuzz" else n


SAMPLE_END = date(2026, 11, 20)


def require_service(available: bool, reason: str) -> None:
    """Skip when a service is absent, but fail in CI where every service must be there."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: required services must be present)")
    pytest.skip(reason)


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def session_dir() -> Path:
    yield _SESSION_DIR
    shutil.rmtree(_SESSION_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def small_sample(session_dir: Path):
    """A small generated sample (40 accounts, 6 days) shared by the tests that only read it."""
    from include.sample import generate

    out = session_dir / "small-sample"
    summary = generate(out, accounts=40, days=6, end_date=SAMPLE_END, seed=7)
    return summary


@pytest.fixture(scope="session")
def airflow_db(session_dir: Path) -> Path:
    """A migrated Airflow metadata database (SQLite) in the session's Airflow home."""
    home = Path(os.environ["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=300,
    )
    if result.returncode != 0:
        pytest.fail(f"airflow db migrate failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
    return home


@pytest.fixture
def settings_env(monkeypatch, tmp_path):
    """Point the ENGAGEMENT_* variables at a sample and a fresh lake/warehouse of this test."""

    def apply(sample_out: Path, crm_url: str | None = None):
        monkeypatch.setenv("ENGAGEMENT_LANDING", str(sample_out / "landing"))
        monkeypatch.setenv("ENGAGEMENT_CRM_URL", crm_url or f"sqlite:///{sample_out / 'crm.sqlite'}")
        monkeypatch.setenv("ENGAGEMENT_LAKE", str(tmp_path / "lake"))
        monkeypatch.setenv("ENGAGEMENT_WAREHOUSE_URL", f"sqlite:///{tmp_path / 'warehouse.sqlite'}")
        from include.scoring.core.settings import Settings

        return Settings.from_env()

    return apply


DEFAULT_END = date(2026, 11, 20)


@pytest.fixture(scope="session")
def default_run(session_dir: Path):
    """The default sample (300 accounts, 120 days, 1% bad rows) run through every stage once.

    Shared by the tests that need realistic history: identity precision and recall, conservation,
    scoring behaviour over time, the calibration report, the dashboard.
    """
    from include.sample import generate
    from include.scoring.context import RunContext
    from include.scoring.core.settings import Settings
    from include.scoring.runner import run_range

    out = session_dir / "default-run"
    summary = generate(out / "sample", accounts=300, days=120, end_date=DEFAULT_END, seed=42, bad_rows=0.01)
    settings = Settings(
        landing=str(out / "sample" / "landing"),
        crm_url=summary.crm_url,
        lake=str(out / "lake"),
        warehouse_url=f"sqlite:///{out / 'warehouse.sqlite'}",
        config_path=None,
        truth=str(out / "sample" / "truth"),
    )
    ctx = RunContext(settings)
    report = run_range(ctx, summary.start, summary.end, echo=lambda _: None)
    return summary, ctx, report


@contextmanager
def pg_database(prefix: str = "engagement_test"):
    """A database of its own on the shared PostgreSQL server (its URL), dropped afterwards."""
    import uuid

    import sqlalchemy as sa

    require_service(port_open("127.0.0.1", 5432), "PostgreSQL is not running on 127.0.0.1:5432")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/test", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def pg_url():
    """A PostgreSQL database of this test's own on the shared server, dropped afterwards."""
    with pg_database() as url:
        yield url


@pytest.fixture(scope="session")
def s3_server(session_dir: Path):
    """moto's S3 server on loopback for the session (tests/object_store.py); skips when it cannot start."""
    from tests.object_store import moto_server

    with moto_server(session_dir / "moto-s3.log") as server:
        yield server


@pytest.fixture
def s3_lake(s3_server, monkeypatch) -> str:
    """A lake URL in a new bucket of the loopback S3 server; the AWS variables point at the server."""
    for name, value in s3_server.environment().items():
        monkeypatch.setenv(name, value)
    return f"s3://{s3_server.new_bucket()}/lake"
