"""Where a benchmark result comes from: the commit it was measured on and the machine it ran on."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import date
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def measured() -> dict:
    """Which code a result was measured on (results of different parts may come from different runs)."""
    try:
        commit = (
            subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10
            ).stdout.strip()
            or "unknown"
        )
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "--", "include"], cwd=ROOT, capture_output=True, text=True, timeout=10
            ).stdout.strip()
        )
    except OSError:
        commit, dirty = "unknown", False
    return {
        "commit": commit + (" (with uncommitted changes to include/)" if dirty else ""),
        "date": date.today().isoformat(),
    }


def machine() -> dict:
    mem = next(
        (
            int(line.split()[1]) // 1024
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        None,
    )
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    versions = {
        p: metadata.version(p)
        for p in (
            "apache-airflow",
            "great-expectations",
            "pandas",
            "pyarrow",
            "numpy",
            "scipy",
            "SQLAlchemy",
            "psycopg",
            "duckdb",
        )
    }
    try:
        pg = subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-tAc", "SHOW server_version"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except OSError:
        pg = "unknown"
    return {
        "cores": os.cpu_count(),
        "memory_mb": mem,
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "postgresql": pg,
        "versions": versions,
    }
