"""
### engagement_daily: one day of account engagement scoring

Runs at **02:00 UTC** for the previous UTC day *D* (the day its data interval starts on; a
backfill's logical dates are the days themselves). Days depend on each other, so
`max_active_runs` stays **1** (and backfills take `--max-active-runs 1`): `score_accounts` builds
on the scoring state of D-1 and `resolve_identities` on its person graph; `validate_*` reads the
earlier days' raw counts (volume baseline) and event ids (duplicates across days);
`publish_warehouse` compares D with the days published before it (quality gate). Only the
extracts are free of earlier days: extracting many days at once is safe, and different days (and
the shards of one day) never share a lake partition, so concurrent tasks cannot corrupt the lake
or a PostgreSQL warehouse (tests/integration/test_concurrency.py); SQLite takes one writer at a
time. A separate extract-only DAG, or `depends_on_past` on the stateful tasks, could let extracts
run ahead; it is not done here.

| task | reads | writes |
|---|---|---|
| `extract_web`, `extract_email`, `extract_ad` | `<landing>/<source>/<D>/` (CSV, JSONL, Parquet; web also Segment/RudderStack JSON lines) | `raw/<source>/dt=D`; `calls/web/dt=D` (Segment identify and group calls) |
| `extract_crm` | the CRM (connection `engagement_crm`): a database read whole, or Salesforce / HubSpot through their APIs (only what changed since the last snapshot, merged into it; whole every `crm.full_refresh_days` or with the `crm_full_refresh` param) | `raw/crm/<table>/dt=D`, `sync/crm/dt=D` (API read marks) |
| `extract_reference` | `<landing>/reference/` (IP ranges, free-mail domains) | `reference/<name>/dt=D` |
| `validate_web_shard`, `validate_email_shard`, `validate_ad_shard` (one per shard; no-ops with one shard) | `raw/<source>/dt=D` (the rows whose event_id hashes to the shard) | the shard's part of `valid/<source>/dt=D`, `quarantine/<source>/dt=D` (its check counts in the part's footer), `event_ids/<source>/dt=D` |
| `validate_web`, `validate_email`, `validate_ad` | `raw/<source>/dt=D` (sharded: the shards' quarantine footers only) | `valid/<source>/dt=D`, `quarantine/<source>/dt=D`, `validation/<source>/dt=D` (summary JSON, check table, Data Docs); sharded: only `validation/`, and on a failed batch it removes `valid/` |
| `validate_crm` | `raw/crm/<table>/dt=D` (the four tables, references checked) | `valid/crm/<table>`, `quarantine/crm/<table>`, `validation/crm/<table>` |
| `prepare_resolution` | `valid/<source>/dt=D`, `calls/web/dt=D`, `reference/*`, the person graph `identity/dt=D-1` and group ties `identity_groups/dt=D-1` | `identity/dt=D`, `identity_groups/dt=D`, `identity_map/dt=D`, `identity_rules/dt=D`, `event_ids/crm/dt=D`; returns the shard numbers |
| `resolve_identities` (one per shard) | `valid/<source>/dt=D` (the shard's keys), the CRM activities of the late-arrival window, `valid/crm/accounts` and `contacts`, `reference/*`, `identity_map/dt=D` | `resolved/dt=D`, `unresolved/dt=D`, `filtered/dt=D`, `resolution/dt=D` (one part file per shard; resolved rows grouped by account shard, so a score task reads only its row groups) |
| `score_accounts` (one per shard) | `resolved/dt=D`, `valid/crm/accounts` and `opportunities` of D, `state/dt=D-1` (replays from the last usable checkpoint when missing or built under another config) | `contributions/dt=D`, `scores/dt=D`, `changes/dt=D` (resets, band changes, alerts, health changes), `daily_points/dt=D`, `daily_ledger/dt=D` (what leaves the accumulation window later), `state/dt=D` |
| `rank_accounts` | `scores/dt=D` (every shard's part) | the percentile and band shares in `scores/dt=D` (and in earlier days a replay rewrote); nothing with one shard |
| `publish_warehouse` | `scores`, `changes`, `state` of D, the lake's counts | warehouse: `account_score_history` (D replaced), `account_scores` (latest), `score_resets`, `score_alerts` (outbox), `account_explanations`, `pipeline_runs` (reconciliation ledger + quality gate); emits the `engagement_account_scores` Asset |
| `push_crm` | `scores/dt=D`, gate status | the CRM account's engagement fields where they changed: SQL `accounts.engagement_*` (made by `python -m include.scoring init-crm`), Salesforce `Engagement_*__c` (composite API, 200 a call), HubSpot `engagement_*` company properties (batch update, 100 a call); accounts the CRM rejects are logged and retried next run |
| `send_alerts` | warehouse `score_alerts` (pending) | one email per recipient (connection `engagement_smtp`; without one, `.eml` files in `<ENGAGEMENT_HOME>/outbox`); rows marked sent (or outbox); alerts older than `alerts.max_age_days` marked expired |

Validation of the event sources, resolution and scoring are mapped over `scale.shards` shards (dynamic task mapping), so a Celery
or Kubernetes deployment spreads a large day over workers; memory per task follows its shard, and
the results are the same for any shard count.

When the quality gate holds (a source's volume, the resolution rate or band churn out of bounds
against the trailing baseline), the scores still land in the warehouse, but `push_crm` and
`send_alerts` fail at once (no retries) with the reasons, and on-call is notified.

**Retries**: errors that trying again cannot fix (a broken landing file, a failed batch
validation, a bad config, a held gate) fail the task at once, without retries, so the notice goes
out at the first failure; a database, CRM API or mail server that is down retries (2 retries,
backoff from 2 minutes). **Which day**: the first line every task writes to its log is
`<task> processes day D (data interval ...; run ...)`, and the scheduler writes the same as the
run's note when the run starts (UI: the run's details and the grid's tooltip). **Memory**: the
last line of every successful task's log is `peak memory of this task process: N MB`; when the
resolve or validate shards near a worker's memory, raise `scale.shards` (per-task figures for a
20M-event day in `benchmarks/RESULTS.md`).

Validation (Great Expectations, suites in `include/expectations/`) quarantines failing rows with
`failed_checks`; a **batch** failure (schema, volume when set to fail, more bad rows than
`validation.max_bad_row_share`) fails the task with a message naming the files, checks, counts and
examples, removes that day's valid partition, and so stops everything downstream for the day.

Tasks pass lake paths through XCom, never data. Locations come from the Airflow connections
`engagement_crm` / `engagement_warehouse` when defined, else from `ENGAGEMENT_LANDING`,
`ENGAGEMENT_CRM_URL`, `ENGAGEMENT_LAKE`, `ENGAGEMENT_WAREHOUSE_URL`, `ENGAGEMENT_CONFIG`, else
the embedded sample under `.local/`. Every task re-run for the same day rewrites the same
partitions with identical content.

**On failure** the task log starts with what broke (file, line, column, what was expected) and
what to do; see `docs/runbook.md` (also served at `/engagement/runbook` on the Airflow UI's
address, the link every notice carries). A validation task's log and notice link its Data Docs
page, served at `/engagement/data-docs/D/<source>`.
"""  # noqa: E501 - markdown tables in the DAG docs need one line per row

from __future__ import annotations

from datetime import UTC, datetime

from airflow.sdk import CronDataIntervalTimetable, Param, dag, task

from include.airflow_glue.assets import ENGAGEMENT_SCORES
from include.airflow_glue.dag_support import DAILY_DEFAULT_ARGS, failure_notifier, run_deadline
from include.scoring.core.sources import EVENT_SOURCES, EXTRACT_SOURCES, VALIDATE_SOURCES


@task(doc_md="Extract one source of day D into `raw/<source>/dt=D`; returns the partition path(s).")
def extract(source: str, **context) -> list[str]:
    from include.airflow_glue.dag_support import data_errors_fail_fast, day_of, log_results, run_context
    from include.scoring.extract.stage import extract_stage

    full = bool(context["params"].get("crm_full_refresh"))
    with data_errors_fail_fast():
        return log_results(extract_stage(run_context(), day_of(context), [source], crm_full_refresh=full))


@task(doc_md="The validate shard numbers of the event sources (config `scale.shards`).")
def plan_validation() -> list[int]:
    from include.airflow_glue.dag_support import run_context

    return list(range(run_context().config.scale.shards))


@task(
    doc_md="Validate one event_id shard of an event source's day D (mapped over `scale.shards`): its part of the "
    "valid, quarantine and event-id partitions; with one shard, nothing (validate_<source> validates the day whole)."
)
def validate_shard(source: str, shard: int, **context) -> str | None:
    from include.airflow_glue.dag_support import data_errors_fail_fast, day_of, run_context
    from include.scoring.validate.sharded import validate_event_shard

    with data_errors_fail_fast():
        ctx = run_context()
        shards = ctx.config.scale.shards
        if shards == 1:
            return None
        return validate_event_shard(ctx.lake, ctx.config, source, day_of(context), shard, shards)


@task(
    doc_md="Validate one source of day D with Great Expectations: valid and quarantine partitions; fails on a broken "
    "batch. An event source sharded over `scale.shards`: combines its shards' counts, decides the whole-day checks "
    "(volume, bad-row share) and writes the summary and Data Docs."
)
def validate(source: str, **context) -> list[str]:
    from include.airflow_glue.dag_support import data_errors_fail_fast, day_of, log_results, run_context
    from include.airflow_glue.notifier import data_docs_link
    from include.scoring.validate.sharded import combine_event_shards
    from include.scoring.validate.stage import validate_stage

    day = day_of(context)
    print(f"Data Docs (served by Airflow): {data_docs_link(source, day.isoformat())}")
    with data_errors_fail_fast():
        ctx = run_context()
        shards = ctx.config.scale.shards
        if source in EVENT_SOURCES and shards > 1:
            return log_results([combine_event_shards(ctx.lake, ctx.config, source, day, shards).stage_result()])
        return log_results(validate_stage(ctx, day, [source]))


@task(
    doc_md="Update the person graph with day D's identifiers and write the day's identity map and rule firings; "
    "returns the shard numbers to resolve and score (config `scale.shards`)."
)
def prepare_resolution(**context) -> list[int]:
    from include.airflow_glue.dag_support import data_errors_fail_fast, day_of, run_context
    from include.scoring.resolve.stage import prepare_resolution as prepare

    with data_errors_fail_fast():
        ctx = run_context()
        prepare(ctx.lake, ctx.config, day_of(context))
        return list(range(ctx.config.scale.shards))


@task(
    doc_md="Resolve one shard of day D's events (keyed by identifier) to accounts and persons, or record why not "
    "(SPEC section 4); mapped over the shards."
)
def resolve_identities(shard: int, **context) -> str:
    from include.airflow_glue.dag_support import data_errors_fail_fast, day_of, run_context
    from include.scoring.resolve.stage import resolve_shard

    with data_errors_fail_fast():
        ctx = run_context()
        return resolve_shard(ctx.lake, ctx.config, day_of(context), shard, ctx.config.scale.shards).path


@task(
    doc_md="Score one shard of accounts for day D from the state of D-1 (replays history when that state is "
    "unusable); resets and decay are applied in this run and recorded in changes; mapped over the shards."
)
def score_accounts(shard: int, **context) -> str:
    from include.airflow_glue.dag_support import data_errors_fail_fast, day_of, run_context
    from include.scoring.score.stage import score_accounts as score

    with data_errors_fail_fast():
        ctx = run_context()
        return score(ctx.lake, ctx.config, day_of(context), shard, ctx.config.scale.shards).path


@task(
    doc_md="Once every score shard of day D is written: each prospect's percentile among all the day's prospects "
    "and the share of prospects per band (band health, a warning when a band holds too many), written into the "
    "day's score files; with one shard the score task already did it."
)
def rank_accounts(**context) -> list[str]:
    from include.airflow_glue.dag_support import data_errors_fail_fast, day_of, log_results, run_context
    from include.scoring.score.stage import rank_day

    with data_errors_fail_fast():
        ctx = run_context()
        return log_results([rank_day(ctx.lake, ctx.config, day_of(context))])


@task(
    outlets=[ENGAGEMENT_SCORES],
    doc_md="Write day D's scores, resets, alert crossings, explanations and the reconciliation ledger to the "
    "warehouse in one transaction; evaluate the quality gate; emit the scores Asset.",
)
def publish_warehouse(**context) -> dict:
    from include.airflow_glue.dag_support import data_errors_fail_fast, day_of, run_context
    from include.scoring.publish.stage import publish_warehouse as publish

    day = day_of(context)
    with data_errors_fail_fast():
        ctx = run_context()
        result = publish(ctx.lake, ctx.config, ctx.settings.warehouse_url, day)
    context["outlet_events"][ENGAGEMENT_SCORES].extra = {
        "day": day.isoformat(),
        "accounts": result.count("accounts"),
        "gate": result.details["gate"],
    }
    return {"day": day.isoformat(), "gate": result.details["gate"], "reasons": result.details["gate_reasons"]}


@task(
    doc_md="Update the CRM accounts' engagement fields where they changed; holds (fails, no retry, on-call told) "
    "when the quality gate held."
)
def push_crm(**context) -> int:
    from include.airflow_glue.dag_support import data_errors_fail_fast, day_of, run_context
    from include.scoring.publish.stage import push_crm as push

    with data_errors_fail_fast():
        ctx = run_context()
        result = push(ctx.lake, ctx.settings.warehouse_url, ctx.settings.crm_url, day_of(context), ctx.config)
        return result.count("updated")


@task(
    doc_md="Email pending threshold alerts, one email per recipient, exactly once (SMTP, else the outbox folder); "
    "expires alerts older than alerts.max_age_days; holds with the quality gate; SMTP failures leave them pending "
    "for the next run."
)
def send_alerts(**context) -> int:
    from include.airflow_glue.dag_support import data_errors_fail_fast, day_of, log_results, run_context
    from include.scoring.publish.alerts import send_alerts as send

    with data_errors_fail_fast():
        ctx = run_context()
        result = send(
            ctx.settings.warehouse_url, ctx.mail(), day_of(context), max_age_days=ctx.config.alerts.max_age_days
        )
    log_results([result])
    return result.count("sent")


@dag(
    dag_id="engagement_daily",
    schedule=CronDataIntervalTimetable("0 2 * * *", timezone="UTC"),
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    tags=["engagement", "scoring", "daily"],
    doc_md=__doc__,
    default_args=DAILY_DEFAULT_ARGS,
    on_failure_callback=failure_notifier(),
    deadline=run_deadline(),
    params={
        "crm_full_refresh": Param(
            False,
            type="boolean",
            description="Read a Salesforce or HubSpot CRM whole instead of what changed since the last snapshot.",
        )
    },
)
def engagement_daily():
    extracted = {source: extract.override(task_id=f"extract_{source}")(source=source) for source in EXTRACT_SOURCES}
    validated = [validate.override(task_id=f"validate_{source}")(source=source) for source in VALIDATE_SOURCES]
    validate_shards = plan_validation()
    for source, validation in zip(VALIDATE_SOURCES, validated, strict=True):
        if source in EVENT_SOURCES:  # mapped over the event_id shards, then combined
            parts = validate_shard.override(task_id=f"validate_{source}_shard").partial(source=source)
            extracted[source] >> parts.expand(shard=validate_shards) >> validation
        else:
            extracted[source] >> validation
    shards = prepare_resolution()
    [*validated, extracted["reference"]] >> shards
    resolved = resolve_identities.expand(shard=shards)
    scored = score_accounts.expand(shard=shards)
    resolved >> scored
    published = publish_warehouse()
    scored >> rank_accounts() >> published >> [push_crm(), send_alerts()]


engagement_daily()
