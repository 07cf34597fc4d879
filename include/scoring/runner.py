"""Stage entry points shared by the CLI and the Airflow tasks, and the day-by-day runner.

Each `*_stage` function takes a RunContext and a day, does one stage for that day, and returns
result objects whose `line()` is what the log and the CLI print. The DAG tasks call exactly these.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path

from include.scoring.core.config import ScoringConfig, load_config
from include.scoring.core.contracts import EVENT_SOURCES
from include.scoring.core.settings import Settings
from include.scoring.core.sources import EXTRACT_SOURCES, VALIDATE_SOURCES
from include.scoring.extract.stage import extract_crm, extract_events, extract_reference
from include.scoring.lake.store import Lake, days_between

log = logging.getLogger(__name__)


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

    @cached_property
    def config(self) -> ScoringConfig:
        return load_config(self.settings.config_path)

    @cached_property
    def lake(self) -> Lake:
        return Lake(self.settings.lake)

    @property
    def landing(self) -> Path:
        return Path(self.settings.landing)


def extract_stage(ctx: RunContext, day: date, sources: Iterable[str] = EXTRACT_SOURCES) -> list:
    results = []
    for source in sources:
        if source in EVENT_SOURCES:
            results.append(extract_events(ctx.landing, ctx.lake, source, day))
        elif source == "crm":
            results.extend(extract_crm(ctx.settings.crm_url, ctx.lake, day))
        elif source == "reference":
            results.extend(extract_reference(ctx.landing, ctx.lake, day))
        else:
            raise ValueError(f"unknown extract source {source!r}; expected one of {EXTRACT_SOURCES}")
    return results


def validate_stage(
    ctx: RunContext, day: date, sources: Iterable[str] = VALIDATE_SOURCES, reprocess_quarantine: bool = False
) -> list:
    from include.scoring.validate.stage import validate_stage_sources

    results = []
    for source in sources:
        results.extend(validate_stage_sources(ctx.lake, ctx.config, source, day, reprocess_quarantine))
    return results


def resolve_stage(ctx: RunContext, day: date) -> list:
    from include.scoring.resolve.stage import resolve_identities

    return [resolve_identities(ctx.lake, ctx.config, day)]


def score_stage(ctx: RunContext, day: date) -> list:
    from include.scoring.score.stage import score_all_shards

    return [score_all_shards(ctx.lake, ctx.config, day)]


def publish_stage(ctx: RunContext, day: date, strict: bool = False) -> list:
    """Warehouse, then CRM push and alerts. Lenient (the `run` command): a held gate, an
    uninitialised CRM or a missing SMTP server are reported, not raised. Strict: raised."""
    from include.scoring.core.errors import QualityGateHeld
    from include.scoring.publish.alerts import AlertResult, send_alerts
    from include.scoring.publish.stage import CrmNotInitialized, PushResult, publish_warehouse, push_crm

    results = [publish_warehouse(ctx.lake, ctx.config, ctx.settings.warehouse_url, day)]
    try:
        results.append(push_crm(ctx.lake, ctx.settings.warehouse_url, ctx.settings.crm_url, day))
    except (QualityGateHeld, CrmNotInitialized) as exc:
        if strict:
            raise
        results.append(PushResult(day, 0, 0, skipped=str(exc).split(". ")[0]))
    try:
        results.append(send_alerts(ctx.settings.warehouse_url, ctx.smtp_settings(), day, strict=strict))
    except QualityGateHeld as exc:
        if strict:
            raise
        results.append(AlertResult(day, note=str(exc).split(". ")[0]))
    return results


@dataclass
class Stage:
    name: str
    run: Callable[[RunContext, date], list]


STAGES: list[Stage] = [
    Stage("extract", extract_stage),
    Stage("validate", validate_stage),
    Stage("resolve", resolve_stage),
    Stage("score", score_stage),
    Stage("publish", publish_stage),
]


@dataclass
class RangeReport:
    start: date
    end: date
    days: int = 0
    seconds: float = 0.0
    per_stage: dict[str, list] = field(default_factory=dict)


def run_range(
    ctx: RunContext, start: date, end: date, stages: list[Stage] | None = None, echo: Callable[[str], None] = print
) -> RangeReport:
    """Run every stage for each day from start to end, in order, printing progress."""
    stages = stages or STAGES
    days = days_between(start, end)
    report = RangeReport(start, end)
    t0 = time.perf_counter()
    for i, day in enumerate(days, start=1):
        t_day = time.perf_counter()
        for stage in stages:
            results = stage.run(ctx, day)
            report.per_stage.setdefault(stage.name, []).extend(results)
            for result in results:
                log.info(result.line())
        report.days += 1
        if len(days) <= 10 or i % 10 == 0 or i == len(days):
            echo(
                f"[{i}/{len(days)}] {day} done ({time.perf_counter() - t_day:.1f}s for the day, {time.perf_counter() - t0:.0f}s so far)"
            )
    report.seconds = time.perf_counter() - t0
    return report
