"""
### engagement_monthly_calibration: is the score predicting what it should?

Runs on the **2nd of each month at 06:00 UTC** for the previous calendar month M (the daily run of
the month's last day has had a day to finish or be re-run). Trigger it with the param `month`
(`YYYY-MM`) for any month; left empty, a manual run reports the month before the trigger date.

| task | reads | writes |
|---|---|---|
| `check_completeness` | warehouse `account_score_history`, `pipeline_runs` | nothing; **fails listing the days of M with no published scores** |
| `build_report` | the published scores of M, the lake's contributions, CRM opportunities (snapshot of the latest published day), quarantine / resolution / identity rules; task runs of `engagement_daily` (connection `engagement_airflow_db`, optional) | `<report folder>/month=YYYY-MM/`: `report.html`, `report.pdf`, `metrics.json`, `suggested_config.yaml`, `suggested_config.diff` |
| `email_report` | the month folder | one email to `calibration.recipients` (connection `engagement_smtp`; without one, an `.eml` file in `<ENGAGEMENT_HOME>/outbox`): HTML summary, PDF attached |

Each account as scored on each day D of M is labelled point in time: an opportunity created, or
closed won, in (D, D + `calibration.outcome_window_days`] as the CRM knows it on the report date;
windows still open are reported apart, with an `outcomes_pending` warning saying when they close
(with N = 90 the month just ended is all pending: trigger `month` three months back for final
figures). Below `calibration.min_closed_won` outcomes the report says its figures are not reliable
and withholds them. Warnings (`metrics.json` `warnings`: outcomes_pending, auc_near_chance,
bands_not_monotone, band_saturation, threshold_degenerate) lead the HTML and the PDF and are printed
in the task log. Suggested point values are a diff for human review and are never applied; signals
the data has not seen keep their points. The report folder is `calibration.report_dir` (default
`<lake>/reports`); see `docs/report.md` and `docs/metrics.md`.

**On failure**: a missing day means engagement_daily did not publish it: backfill those days
(`airflow backfill create --dag-id engagement_daily --from-date ... --to-date ...`), then clear
`check_completeness`. An email failure leaves the report in place: clear `email_report` once the
SMTP server answers.
"""  # noqa: E501 - markdown tables in the DAG docs need one line per row

from __future__ import annotations

from datetime import UTC, datetime

from airflow.sdk import CronDataIntervalTimetable, Param, dag, task

from include.airflow_glue.dag_support import DEFAULT_ARGS, failure_notifier


@task(
    doc_md="Fail, listing the missing days, unless every day of the month has published scores and a pipeline_runs "
    "row; returns the month."
)
def check_completeness(**context) -> str:
    from include.airflow_glue.calibration import report_month
    from include.airflow_glue.dag_support import run_context
    from include.scoring.report.stage import check_complete

    month = report_month(context)
    report_date = check_complete(run_context().settings.warehouse_url, month)
    print(f"every day of {month} is published; outcomes as known on {report_date}")
    return month


@task(
    doc_md="Compute the report of the month and write its folder: report.html, report.pdf, metrics.json, "
    "suggested_config.yaml (never applied)."
)
def build_report(month: str, **context) -> dict:
    from include.airflow_glue.calibration import daily_task_runs
    from include.airflow_glue.dag_support import run_context
    from include.scoring.report.months import parse_month
    from include.scoring.report.stage import build_report as build

    ctx = run_context()
    first, last = parse_month(month)
    result = build(
        ctx.lake,
        ctx.config,
        ctx.settings.warehouse_url,
        month,
        config_path=ctx.settings.config_path,
        task_runs=daily_task_runs(first, last),
    )
    print(result.line())
    print("\n".join(result.headline_lines()))
    return {"month": month, "folder": result.folder, "reliable": result.reliable}


@task(
    doc_md="Email the HTML summary with the PDF attached to calibration.recipients through the engagement_smtp "
    "connection."
)
def email_report(report: dict, **context) -> int:
    from include.airflow_glue.dag_support import run_context
    from include.scoring.report.stage import email_report as send
    from include.scoring.report.stage import load_report

    ctx = run_context()
    result = send(load_report(report["folder"], report["month"]), ctx.config, ctx.mail())
    print(result.line())
    return result.recipients if result.sent else 0


@dag(
    dag_id="engagement_monthly_calibration",
    schedule=CronDataIntervalTimetable("0 6 2 * *", timezone="UTC"),
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    tags=["engagement", "scoring", "monthly", "report"],
    doc_md=__doc__,
    default_args=DEFAULT_ARGS,
    on_failure_callback=failure_notifier(),
    params={
        "month": Param(
            "",
            type="string",
            pattern=r"^(\d{4}-(0[1-9]|1[0-2]))?$",
            title="Month (YYYY-MM)",
            description="The month to report on; empty = the month before the run date.",
        )
    },
)
def engagement_monthly_calibration():
    email_report(build_report(check_completeness()))


engagement_monthly_calibration()
