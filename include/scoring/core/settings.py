"""Where things are: landing zone, CRM, lake, warehouse and config.

Every location has an embedded default under the project's git-ignored `.local/` folder, so the
demo runs with no setup; each can be overridden by a CLI option or an environment variable
(SPEC section 7), and in Airflow by a connection (see include/airflow_glue/dag_support.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from include.scoring.core.urls import mask_url

PROJECT_ROOT = Path(__file__).resolve().parents[3]


def local_home() -> Path:
    """The folder holding every run output; `ENGAGEMENT_HOME` moves it (default `.local/`)."""
    return Path(os.environ.get("ENGAGEMENT_HOME") or PROJECT_ROOT / ".local").resolve()


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


@dataclass(frozen=True)
class Settings:
    landing: str
    crm_url: str
    lake: str
    warehouse_url: str
    config_path: str | None
    #: ground truth written by the generator, for evaluation only
    truth: str | None = None
    #: SMTP server for alert emails and the report: smtp://user:pass@host:port?starttls=true&from=a@b
    smtp_url: str | None = None

    @classmethod
    def from_env(cls, **overrides: str | None) -> Settings:
        """Defaults, then environment variables, then explicit overrides (None = not given)."""
        home = local_home()
        sample = home / "sample"
        values = {
            "landing": os.environ.get("ENGAGEMENT_LANDING") or str(sample / "landing"),
            "crm_url": os.environ.get("ENGAGEMENT_CRM_URL") or sqlite_url(sample / "crm.sqlite"),
            "lake": os.environ.get("ENGAGEMENT_LAKE") or str(home / "lake"),
            "warehouse_url": os.environ.get("ENGAGEMENT_WAREHOUSE_URL") or sqlite_url(home / "warehouse.sqlite"),
            "config_path": os.environ.get("ENGAGEMENT_CONFIG") or None,
            "truth": os.environ.get("ENGAGEMENT_TRUTH") or str(sample / "truth"),
            "smtp_url": os.environ.get("ENGAGEMENT_SMTP_URL") or None,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def __repr__(self) -> str:
        """The locations with every URL password replaced by ***: a repr ends up in logs,
        tracebacks and test reports, and the URLs may carry credentials."""
        shown = ", ".join(f"{name}={mask_url(value)!r}" for name, value in vars(self).items())
        return f"Settings({shown})"

    def with_(self, **changes: str | None) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})
