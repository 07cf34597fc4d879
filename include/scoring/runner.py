"""The day-by-day runner: every stage for each day of a range, in order (`run` and `demo`).

Each stage's entry point lives in its package's `stage.py` (`extract_stage`, `validate_stage`,
...) and is what the DAG tasks call too; stages are imported when they run, so importing the
runner does not pull in Great Expectations or the scoring engine.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from importlib import import_module

from include.scoring.context import RunContext
from include.scoring.core.errors import ExtractError, PipelineError, UsageError
from include.scoring.core.results import StageResult
from include.scoring.core.sources import EXTRACT_SOURCES
from include.scoring.lake.store import days_between

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Stage:
    name: str
    #: `package.module:function`, a function (RunContext, day) -> list[StageResult]
    target: str

    def run(self, ctx: RunContext, day: date) -> list[StageResult]:
        module, function = self.target.split(":")
        return getattr(import_module(module), function)(ctx, day)


def extract_sources(
    ctx: RunContext, day: date, sources: list[str] | None = None, crm_full_refresh: bool = False
) -> tuple[list[StageResult], list[tuple[str, PipelineError]]]:
    """Extract every source of the day, each on its own: a broken source does not keep the others
    from being extracted. Returns the results and the (source, error) of each that failed; a
    usage error (bad config) stops at once."""
    from include.scoring.extract.stage import extract_stage

    results: list[StageResult] = []
    failures: list[tuple[str, PipelineError]] = []
    for source in sources or EXTRACT_SOURCES:
        try:
            results += extract_stage(ctx, day, [source], crm_full_refresh)
        except UsageError:
            raise
        except PipelineError as exc:
            failures.append((source, exc))
    return results, failures


def raise_extract_failures(day: date, failures: list[tuple[str, PipelineError]], attempted: int) -> None:
    """One error naming every source that failed, each with its own message."""
    if not failures:
        return
    if len(failures) == 1 and attempted == 1:
        raise failures[0][1]
    lines = "\n".join(f"  - {source}: {exc}" for source, exc in failures)
    raise ExtractError(
        f"extract failed for {len(failures)} of {attempted} source(s) on {day} (the others were extracted):\n{lines}"
    )


def extract_every_source(ctx: RunContext, day: date) -> list[StageResult]:
    """The runner's extract stage: every source attempted, every failure reported together."""
    results, failures = extract_sources(ctx, day)
    raise_extract_failures(day, failures, len(EXTRACT_SOURCES))
    return results


STAGES: list[Stage] = [
    Stage("extract", "include.scoring.runner:extract_every_source"),
    *(
        Stage(name, f"include.scoring.{name}.stage:{name}_stage")
        for name in ("validate", "resolve", "score", "publish")
    ),
]


@dataclass
class RangeReport:
    start: date
    end: date
    days: int = 0
    seconds: float = 0.0
    per_stage: dict[str, list[StageResult]] = field(default_factory=dict)


def run_range(
    ctx: RunContext,
    start: date,
    end: date,
    stages: list[Stage] | None = None,
    echo: Callable[[str], None] = print,
    before_day: Callable[[date], None] | None = None,
) -> RangeReport:
    """Run every stage for each day from start to end, in order, printing progress. `before_day`
    runs first each day (the demo moves its sample CRM to the day with it)."""
    stages = stages or STAGES
    days = days_between(start, end)
    report = RangeReport(start, end)
    t0 = time.perf_counter()
    for i, day in enumerate(days, start=1):
        t_day = time.perf_counter()
        if before_day is not None:
            before_day(day)
        for stage in stages:
            results = stage.run(ctx, day)
            report.per_stage.setdefault(stage.name, []).extend(results)
            for result in results:
                log.info(result.line())
        report.days += 1
        if len(days) <= 10 or i % 10 == 0 or i == len(days):
            echo(
                f"[{i}/{len(days)}] {day} done ({time.perf_counter() - t_day:.1f}s for the day, "
                f"{time.perf_counter() - t0:.0f}s so far)"
            )
    report.seconds = time.perf_counter() - t0
    return report
