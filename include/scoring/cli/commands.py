"""The commands of `python -m include.scoring`: each turns parsed arguments into a stage call.

The same stage functions the DAG tasks call; a command prints what a user wants to see and
returns the exit status (0 success; failures raise PipelineError, which main.py turns into 1, or
2 for a usage error).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _settings(args: argparse.Namespace):
    from include.scoring.core.settings import Settings

    return Settings.from_env(
        landing=args.landing,
        crm_url=args.crm_url,
        lake=args.lake,
        warehouse_url=args.warehouse_url,
        config_path=args.config,
    )


def _context(args: argparse.Namespace):
    """The run context, with the config validated up front: a bad config fails before any work."""
    from include.scoring.context import RunContext

    ctx = RunContext(_settings(args))
    ctx.config  # noqa: B018 - load and validate now
    check_locations(ctx)
    return ctx


def check_locations(ctx) -> None:
    """Every URL of the run parsed before any work: a malformed one is a usage error (exit 2), not a
    traceback after the warehouse and the CRM were written."""
    from include.scoring.core.errors import UsageError
    from include.scoring.core.urls import mask_url, url_problem

    settings = ctx.settings
    for what, env, url in (
        ("CRM", "ENGAGEMENT_CRM_URL or --crm-url", settings.crm_url),
        ("warehouse", "ENGAGEMENT_WAREHOUSE_URL or --warehouse-url", settings.warehouse_url),
    ):
        problem = url_problem(url)
        if problem:
            raise UsageError(f"the {what} URL {mask_url(url)} is malformed: {problem}. Fix {env}.")
    try:
        ctx.smtp_settings()
    except ValueError as exc:
        raise UsageError(
            f"the SMTP URL {mask_url(settings.smtp_url)} is malformed: {exc}. Fix ENGAGEMENT_SMTP_URL "
            "(smtp://user:pass@host:port?starttls=true&from=a@b)."
        ) from None


def _check_range(args: argparse.Namespace) -> None:
    from include.scoring.core.errors import UsageError

    if args.end < args.start:
        raise UsageError(f"--end {args.end} is before --start {args.start}; give the range first day to last day")


# Commands ---------------------------------------------------------------------------------------
def cmd_generate(args: argparse.Namespace) -> int:
    from include.sample import generate
    from include.scoring.core.settings import local_home

    out = Path(args.out) if args.out else local_home() / "sample"
    summary = generate(
        out,
        accounts=args.accounts,
        days=args.days,
        end_date=args.end_date,
        seed=args.seed,
        crm_url=args.crm_url,
        bad_rows=args.bad_rows,
    )
    print("\n".join(summary.lines()))
    print(f"  landing: {out / 'landing'}\n  crm:     {summary.crm_url}\n  truth:   {out / 'truth'}")
    return 0


def cmd_extract(args: argparse.Namespace) -> int:
    """Every source asked for (default all) is attempted; the ones that worked are printed, then
    every failure in one error (exit 1)."""
    from include.scoring.core.sources import EXTRACT_SOURCES
    from include.scoring.runner import extract_sources, raise_extract_failures

    ctx = _context(args)
    sources = args.source or list(EXTRACT_SOURCES)
    results, failures = extract_sources(ctx, args.date, sources, args.crm_full_refresh)
    for result in results:
        print(result.line())
        for warning in result.warnings:
            print(f"  warning: {warning}")
    raise_extract_failures(args.date, failures, len(sources))
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from include.scoring.core.sources import VALIDATE_SOURCES
    from include.scoring.validate.report import report_lines
    from include.scoring.validate.stage import validate_stage_sources

    ctx = _context(args)
    for source in args.source or VALIDATE_SOURCES:  # the stage's units, each with its full check table
        for report in validate_stage_sources(ctx.lake, ctx.config, source, args.date, args.reprocess_quarantine):
            print("\n".join(report_lines(report)))
    if args.reprocess_quarantine:
        print(
            f"Re-run the later stages for {args.date} to use the re-validated rows: python -m include.scoring run "
            f"--start {args.date} --end {args.date}"
        )
    return 0


def cmd_resolve(args: argparse.Namespace) -> int:
    from include.scoring.resolve.stage import resolve_stage

    ctx = _context(args)
    for result in resolve_stage(ctx, args.date):
        print(result.line())
        for reason, count in sorted(result.breakdowns["by_reason"].items(), key=lambda kv: -kv[1]):
            print(f"  unresolved {reason:<16} {count:>8,}")
        for reason, count in sorted(result.breakdowns["filtered_by_reason"].items(), key=lambda kv: -kv[1]):
            print(f"  filtered   {reason:<16} {count:>8,}")
        for rule, count in sorted(result.breakdowns["firings"].items()):
            print(f"  rule fired {rule:<24} {count:>8,}")
    if args.evaluate_against:
        from include.scoring.resolve.evaluate import evaluate_resolution

        print("\n".join(evaluate_resolution(ctx.lake, args.evaluate_against, args.date, args.date).lines()))
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from include.scoring.score.stage import score_stage

    ctx = _context(args)
    for result in score_stage(ctx, args.date):
        print(result.line())
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from include.scoring.cli.explain import explain_lines
    from include.scoring.cli.terminal import safe_lines

    ctx = _context(args)
    print(safe_lines(explain_lines(ctx.lake, ctx.config, args.account, args.date)))
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    from include.scoring.core.config import load_config
    from include.scoring.score.backtest import backtest

    _check_range(args)
    ctx = _context(args)
    candidate = load_config(args.candidate)
    print(
        "\n".join(
            backtest(ctx.lake, ctx.config, candidate, args.start, args.end, ctx.config.calibration.outcome_window_days)
        )
    )
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from include.scoring.publish.stage import publish_stage

    ctx = _context(args)
    for result in publish_stage(ctx, args.date, strict=True):
        print(result.line())
    return 0


def cmd_init_crm(args: argparse.Namespace) -> int:
    from include.scoring.core.urls import mask_url
    from include.scoring.crm.connector import scheme_of
    from include.scoring.publish.stage import CRM_FIELDS, init_crm

    ctx = _context(args)
    settings = ctx.settings
    added = init_crm(settings.crm_url, ctx.config)  # an API CRM lacking fields raises, naming them
    if scheme_of(settings.crm_url) in ("salesforce", "hubspot"):
        crm = ctx.config.crm.salesforce if scheme_of(settings.crm_url) == "salesforce" else ctx.config.crm.hubspot
        print(f"CRM {mask_url(settings.crm_url)}: every push field is there ({', '.join(crm.push_fields.values())})")
        return 0
    kept = [c for c in CRM_FIELDS if c not in added]
    print(
        f"CRM {mask_url(settings.crm_url)}: accounts table "
        + (f"gained {', '.join(added)}" if added else "already had every engagement column")
        + (f"; already present: {', '.join(kept)}" if added and kept else "")
    )
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from include.scoring.report.stage import build_report, email_report

    ctx = _context(args)
    result = build_report(
        ctx.lake,
        ctx.config,
        ctx.settings.warehouse_url,
        args.month,
        config_path=ctx.settings.config_path,
        out_root=args.out,
    )
    print(result.line())
    print(f"  {result.metrics['reliability_note']}")
    for name, path in result.files.items():
        print(f"  {name:<22} {path}")
    if args.email:
        print(email_report(result, ctx.config, ctx.mail()).line())
    return 0


def cmd_forget(args: argparse.Namespace) -> int:
    from include.scoring.privacy.forget import forget

    ctx = _context(args)
    result = forget(
        ctx, args.email, requested_by=args.requested_by, dry_run=args.dry_run, crm_push=not args.no_crm_push
    )
    print("\n".join(result.lines()))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Day D's scores as CSV, guarded against spreadsheet formulas (include/scoring/publish/csv_export.py)."""
    from include.scoring.publish.csv_export import export_scores

    ctx = _context(args)
    if args.out in (None, "-"):
        export_scores(ctx.lake, args.date, sys.stdout)
        return 0
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    with tmp.open("w", encoding="utf-8", newline="") as fh:  # renamed into place: never a half-written file
        rows = export_scores(ctx.lake, args.date, fh)
    tmp.replace(out)
    print(f"export {args.date}  {rows:,} account(s) written to {out}", file=sys.stderr)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from include.scoring.cli.summary import print_run_summary
    from include.scoring.runner import run_range

    _check_range(args)
    ctx = _context(args)
    report = run_range(ctx, args.start, args.end)
    print_run_summary(ctx, report)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Generate the sample, wipe earlier demo outputs, run every stage over every day, summarise."""
    import shutil

    from include.sample import generate
    from include.scoring.cli.summary import next_steps_lines, print_run_summary
    from include.scoring.context import RunContext
    from include.scoring.core.settings import Settings, local_home
    from include.scoring.runner import run_range

    home = local_home()
    sample = home / "sample"
    print(f"Generating the sample ({args.accounts} accounts, {args.days} days) in {sample} ...")
    summary = generate(sample, accounts=args.accounts, days=args.days, seed=args.seed, bad_rows=args.bad_rows)
    print("\n".join(summary.lines()))
    settings = Settings(
        landing=str(sample / "landing"),
        crm_url=summary.crm_url,
        lake=str(home / "lake"),
        warehouse_url=f"sqlite:///{home / 'warehouse.sqlite'}",
        config_path=args.config,
        truth=str(sample / "truth"),
    )
    shutil.rmtree(settings.lake, ignore_errors=True)
    (home / "warehouse.sqlite").unlink(missing_ok=True)
    from include.scoring.publish.stage import init_crm

    print(
        "init-crm: engagement columns added to the sample CRM: "
        f"{', '.join(init_crm(settings.crm_url)) or 'already there'}"
    )
    print(f"\nRunning every stage for {summary.start} .. {summary.end} ...")
    ctx = RunContext(settings)
    from include.sample.landing import apply_crm_changes

    # the sample CRM changes as the days pass (customers churn), as a live CRM would
    report = run_range(ctx, summary.start, summary.end, before_day=lambda day: apply_crm_changes(settings.crm_url, day))
    print_run_summary(ctx, report)
    print("\n".join(demo_report_lines(ctx, summary.start, summary.end)))
    print("\n".join(next_steps_lines(ctx, report)))
    return 0


def demo_report_lines(ctx, start, end) -> list[str]:
    """The demo's last step: the calibration report of the latest month whose outcome windows have
    all closed, and its headline (path, AUC, best and worst signal, warnings)."""
    from include.scoring.report.months import latest_closed_month
    from include.scoring.report.stage import build_report

    window = ctx.config.calibration.outcome_window_days
    month = latest_closed_month(start, end, window)
    if month is None:
        return [
            f"\nNo calibration report: no whole month of {start} .. {end} has its {window}-day outcome windows closed."
        ]
    print(f"\nBuilding the calibration report of {month} (the latest month whose outcome windows have closed) ...")
    result = build_report(ctx.lake, ctx.config, ctx.settings.warehouse_url, month, config_path=ctx.settings.config_path)
    return result.headline_lines()
