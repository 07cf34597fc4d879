"""The run context every stage function takes: where things are, the validated config, the lake.

Built once per CLI command or Airflow task (`include/airflow_glue/dag_support.run_context`), so
the config is loaded and validated once and every stage of a run sees the same one.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from include.scoring.core.config import ScoringConfig, load_config
from include.scoring.core.settings import Settings
from include.scoring.lake.store import Lake


@dataclass
class RunContext:
    settings: Settings
    #: the SMTP server for alert emails: from settings.smtp_url unless set (Airflow: the connection)
    smtp: object | None = None

    def smtp_settings(self):
        if self.smtp is None and self.settings.smtp_url:
            from include.scoring.core.mailer import smtp_from_url

            self.smtp = smtp_from_url(self.settings.smtp_url)
        return self.smtp

    def mail(self):
        """Where alert and report emails go: the SMTP server when configured, else the outbox
        folder `<ENGAGEMENT_HOME>/outbox` (include/scoring/core/mailer.py)."""
        from include.scoring.core.mailer import transport_or_outbox

        return transport_or_outbox(self.smtp_settings())

    @cached_property
    def config(self) -> ScoringConfig:
        return load_config(self.settings.config_path)

    @cached_property
    def lake(self) -> Lake:
        return Lake(self.settings.lake)

    @property
    def landing(self) -> Path:
        return Path(self.settings.landing)
