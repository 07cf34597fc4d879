"""Score for day D: contributions, the state machine, and the lake outputs (SPEC section 7).

Day D is computed from the state at D-1 plus day D. When that state is missing or was built under
another config (first run, full refresh, config change, a gap), the days before D are replayed from
the last usable checkpoint (or from the first day with resolved data) with the very same step
function, vectorised across accounts: a Python loop over days, never over accounts or events.
Writes contributions/, scores/, changes/, daily_points/ and state/ (state every day incrementally;
a checkpoint every 30 days and the last day during a replay). This module decides when to replay;
`replay.py` steps the days, `day.py` holds one day's arithmetic.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, timedelta
from typing import TYPE_CHECKING

import pyarrow as pa

from include.scoring.core.config import ScoringConfig
from include.scoring.core.contracts import EVENT_SOURCES
from include.scoring.core.errors import StateError
from include.scoring.core.results import StageResult
from include.scoring.lake import catalog
from include.scoring.lake.store import Lake, days_between
from include.scoring.score.outputs import SCORE_DICTIONARY_COLUMNS, SCORE_NO_STATISTICS, SCORE_SCHEMA
from include.scoring.score.ranking import rank_scores
from include.scoring.score.replay import run_days
from include.scoring.score.state_io import state_meta

if TYPE_CHECKING:
    from include.scoring.context import RunContext

log = logging.getLogger(__name__)


def _usable_checkpoint(lake: Lake, config: ScoringConfig, before: date) -> date | None:
    fingerprint = config.fingerprint()
    for day in reversed([d for d in lake.days(catalog.STATE) if d < before]):
        meta = state_meta(lake, day)
        if meta and meta.get("fingerprint") == fingerprint:
            return day
    return None


def _refuse_to_start_over(lake: Lake, day: date) -> None:
    """Earlier days were extracted but never resolved: scoring D from an empty state would
    silently drop their points. Refuse and say which days to run first."""
    earlier = sorted({d for source in EVENT_SOURCES for d in lake.days(catalog.raw(source)) if d < day})
    if earlier:
        raise StateError(
            f"cannot score {day} from an empty state: the lake holds events of {len(earlier)} earlier day(s) "
            f"({earlier[0]} to {earlier[-1]}) "
            f"that were never resolved and scored, so their points would be lost. Run those days first, in order: "
            f"python -m include.scoring run --start {earlier[0]} --end {day}"
        )


def score_accounts(lake: Lake, config: ScoringConfig, day: date, shard: int = 0, shards: int = 1) -> StageResult:
    """The score stage for day D (one account shard): incremental from D-1's state, or replay
    when it is unusable."""
    prev = day - timedelta(days=1)
    meta = state_meta(lake, prev)
    history = [d for d in lake.days(catalog.RESOLVED) if d < day]
    if meta and meta.get("fingerprint") == config.fingerprint():
        days, initial, mode = [day], prev, "incremental"
    elif not history:
        _refuse_to_start_over(lake, day)
        days, initial, mode = [day], None, "first day"
        log.info(
            "no resolved events before %s in %s: scoring %s from an empty state (the first day)", day, lake.root, day
        )
    else:
        checkpoint = _usable_checkpoint(lake, config, day)
        start = checkpoint + timedelta(days=1) if checkpoint else history[0]
        why = "built under another config" if meta else "missing"
        days, initial = days_between(start, day), checkpoint
        mode = f"replayed {len(days) - 1} day(s) from {start} (state of {prev} {why})"
        log.warning(
            "state of %s is %s: replaying %s day(s) from %s%s",
            prev,
            why,
            len(days) - 1,
            start,
            f" (checkpoint {checkpoint})" if checkpoint else " (first day with resolved events)",
        )
    *_, (_, result) = run_days(lake, config, days, initial, shard=shard, shards=shards)
    result.unit = "day" if shards == 1 else f"shard {shard + 1}/{shards}"
    result.details["mode"] = mode if shards == 1 else f"{mode}; shard {shard + 1}/{shards}"
    log.info(result.line())
    return result


def score_all_shards(lake: Lake, config: ScoringConfig, day: date) -> StageResult:
    """Every account shard in turn (the CLI's way; Airflow maps the shards over workers)."""
    shards = config.scale.shards
    results = [score_accounts(lake, config, day, shard, shards) for shard in range(shards)]
    total = results[0].merged(results[1:])
    total.unit = "day"
    total.details["mode"] = results[0].details["mode"].split("; shard")[0] + (
        f" ({shards} shards)" if shards > 1 else ""
    )
    return total


def rescore_from(lake: Lake, config: ScoringConfig, first: date) -> list[date]:
    """Re-score every shard from `first` to the last scored day, starting from the last usable
    checkpoint before `first`, and write every day's outputs and state (nothing older is left
    stale). For inputs changed under history, e.g. a right-to-erasure request. Returns the days."""
    scored = lake.days(catalog.SCORES)
    if not scored or scored[-1] < first:
        return []
    checkpoint = _usable_checkpoint(lake, config, first)
    start = checkpoint + timedelta(days=1) if checkpoint else lake.days(catalog.RESOLVED)[0]
    days = days_between(start, scored[-1])
    shards = config.scale.shards
    for shard in range(shards):
        for _ in run_days(lake, config, days, checkpoint, checkpoint_every=1, shard=shard, shards=shards):
            pass
    log.info(
        "re-scored %s day(s) from %s (%s)",
        len(days),
        start,
        f"checkpoint {checkpoint}" if checkpoint else "no checkpoint",
    )
    return days


def replay_range(lake: Lake, config: ScoringConfig, days: Iterable[date]) -> list[StageResult]:
    """Re-score a whole range from scratch (full refresh), writing every day's outputs."""
    return [result for _, result in run_days(lake, config, list(days), None)]


def rank_day(lake: Lake, config: ScoringConfig, day: date) -> StageResult:
    """Once every score shard of D is written: the percentile of each prospect among all of the
    day's prospects, and band health (ranking.py), written into the day's score files. Earlier days
    a replay rewrote are ranked too (back to the last ranked day). Nothing to do without shards:
    the score stage ranked the day as it wrote it."""
    days, ranked_days = [], []
    for earlier in reversed([d for d in lake.days(catalog.SCORES) if d <= day]):
        if all(meta.get("ranked") for meta in lake.part_metadata(catalog.SCORES, earlier) or [{}]):
            break
        days.append(earlier)
    result = StageResult("score", "rank", day, [lake.url(catalog.SCORES, day)], counts={"days_ranked": len(days)})
    for each in sorted(days):
        parts = lake.read_parts(catalog.SCORES, each)
        table, health = rank_scores(pa.concat_tables(parts), config)
        start = 0
        for shard, part in enumerate(parts):
            lake.write_part(
                catalog.SCORES,
                each,
                shard,
                len(parts),
                table.slice(start, part.num_rows),
                schema=SCORE_SCHEMA,
                metadata={"ranked": True, **health.meta()},
                dictionary=SCORE_DICTIONARY_COLUMNS,
                no_statistics=SCORE_NO_STATISTICS,
            )
            start += part.num_rows
        ranked_days.append(each)
        if each == day:
            health.report(result)
    log.info("ranked %s day(s) of scores: %s", len(ranked_days), ", ".join(map(str, ranked_days)) or "none needed")
    return result


def score_stage(ctx: RunContext, day: date) -> list[StageResult]:
    """The score stage for day D: every account shard in turn (Airflow maps the shards), then the
    day's ranking when there are shards."""
    result = score_all_shards(ctx.lake, ctx.config, day)
    if ctx.config.scale.shards > 1:
        ranking = rank_day(ctx.lake, ctx.config, day)
        result.warnings += ranking.warnings
        result.breakdowns.update(ranking.breakdowns)
    return [result]
