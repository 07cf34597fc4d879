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
from include.scoring.core.results import StageResult
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


STAGES: list[Stage] = [
    Stage(name, f"include.scoring.{name}.stage:{name}_stage")
    for name in ("extract", "validate", "resolve", "score", "publish")
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
