"""
### engagement_daily: one day of account engagement scoring

Runs at **02:00 UTC** for the previous UTC day *D* (the day its data interval starts on; a
backfill's logical dates are the days themselves). Days depend on each other (scores of D are
built from the state of D-1), so one run at a time.

| task | reads | writes |
|---|---|---|
| `extract_web`, `extract_email`, `extract_ad` | `<landing>/<source>/<D>/` (CSV, JSONL, Parquet) | `raw/<source>/dt=D` |
| `extract_crm` | the CRM database (connection `engagement_crm`), whole tables | `raw/crm/<table>/dt=D` |
| `extract_reference` | `<landing>/reference/` (IP ranges, free-mail domains) | `reference/<name>/dt=D` |

Tasks pass lake paths through XCom, never data. Locations come from the Airflow connections
`engagement_crm` / `engagement_warehouse` when defined, else from `ENGAGEMENT_LANDING`,
`ENGAGEMENT_CRM_URL`, `ENGAGEMENT_LAKE`, `ENGAGEMENT_WAREHOUSE_URL`, `ENGAGEMENT_CONFIG`, else
the embedded sample under `.local/`. Every task re-run for the same day rewrites the same
partitions with identical content.

**On failure** the task log starts with what broke (file, line, column, what was expected) and
what to do; see `docs/runbook.md`.
"""

from __future__ import annotations

from datetime import datetime, timezone

from airflow.sdk import CronDataIntervalTimetable, dag, task

from include.dag_support import DEFAULT_ARGS
from include.scoring.sources import EXTRACT_SOURCES


@task(doc_md="Extract one source of day D into `raw/<source>/dt=D`; returns the partition path(s).")
def extract(source: str, **context) -> list[str]:
    from include.dag_support import day_of, log_results, run_context
    from include.scoring.pipeline import extract_stage

    return log_results(extract_stage(run_context(), day_of(context), [source]))


@dag(
    dag_id="engagement_daily",
    schedule=CronDataIntervalTimetable("0 2 * * *", timezone="UTC"),
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    tags=["engagement", "scoring", "daily"],
    doc_md=__doc__,
    default_args=DEFAULT_ARGS,
)
def engagement_daily():
    for source in EXTRACT_SOURCES:
        extract.override(task_id=f"extract_{source}")(source=source)


engagement_daily()
