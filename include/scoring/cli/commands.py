"""Command line: `python -m include.scoring <command> ...` (SPEC section 7).

Runs any stage, or every stage day by day, without a scheduler; the DAG tasks call the same
functions. Exit status: 0 success, 1 data or pipeline failure (the message says what and where),
2 usage error. Every option can also come from the environment variable shown in `--help`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from collections.abc import Callable
from datetime import date
from pathlib import Path

from include.scoring.core.errors import PipelineError

log = logging.getLogger("include.scoring")

COMMON = [
    ("--landing", "ENGAGEMENT_LANDING", "landing zone folder"),
    ("--crm-url", "ENGAGEMENT_CRM_URL", "SQLAlchemy URL of the CRM database"),
    ("--lake", "ENGAGEMENT_LAKE", "lake root (folder or fsspec URL)"),
    ("--warehouse-url", "ENGAGEMENT_WAREHOUSE_URL", "SQLAlchemy URL of the warehouse"),
    ("--config", "ENGAGEMENT_CONFIG", "scoring config YAML (default: include/config/engagement.yaml)"),
]


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; use YYYY-MM-DD") from None


def _env_default(var: str, kind: Callable = str):
    value = os.environ.get(var)
    if value in (None, ""):
        return None
    try:
        return kind(value)
    except (ValueError, argparse.ArgumentTypeError):
        raise SystemExit(f"error: environment variable {var}={value!r} is not valid") from None


def _common(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("locations (default: the embedded sample under .local/)")
    for flag, env, text in COMMON:
        group.add_argument(flag, default=None, metavar=flag.strip("-").split("-")[-1].upper(), help=f"{text} [{env}]")


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
    return ctx


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
    from include.scoring.core.sources import EXTRACT_SOURCES
    from include.scoring.extract.stage import extract_stage

    ctx = _context(args)
    for result in extract_stage(ctx, args.date, args.source or EXTRACT_SOURCES):
        print(result.line())
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
            f"Re-run the later stages for {args.date} to use the re-validated rows: python -m include.scoring run --start {args.date} --end {args.date}"
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

    ctx = _context(args)
    print("\n".join(explain_lines(ctx.lake, args.account, args.date)))
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    from include.scoring.core.config import load_config
    from include.scoring.score.backtest import backtest

    if args.end < args.start:
        raise SystemExit(f"error: --end {args.end} is before --start {args.start}")
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
    from include.scoring.publish.stage import CRM_FIELDS, init_crm

    settings = _settings(args)
    added = init_crm(settings.crm_url)
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
        print(email_report(result, ctx.config, ctx.smtp_settings()).line())
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

    if args.end < args.start:
        raise SystemExit(f"error: --end {args.end} is before --start {args.start}")
    ctx = _context(args)
    report = run_range(ctx, args.start, args.end)
    print_run_summary(ctx, report)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Generate the sample, wipe earlier demo outputs, run every stage over every day, summarise."""
    import shutil

    from include.sample import generate
    from include.scoring.cli.summary import print_run_summary
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
        f"init-crm: engagement columns added to the sample CRM: {', '.join(init_crm(settings.crm_url)) or 'already there'}"
    )
    print(f"\nRunning every stage for {summary.start} .. {summary.end} ...")
    ctx = RunContext(settings)
    report = run_range(ctx, summary.start, summary.end)
    print_run_summary(ctx, report)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m include.scoring",
        description="Account engagement scoring: run any stage, or the whole day, without a scheduler.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "generate",
        help="write a synthetic sample: landing files, CRM database, ground truth",
        description="Write a deterministic synthetic sample (SPEC section 7).",
    )
    p.add_argument(
        "--out",
        default=_env_default("ENGAGEMENT_SAMPLE"),
        help="output folder [ENGAGEMENT_SAMPLE] (default .local/sample)",
    )
    p.add_argument(
        "--accounts",
        type=int,
        default=_env_default("ENGAGEMENT_ACCOUNTS", int) or 300,
        help="number of accounts [ENGAGEMENT_ACCOUNTS] (default 300)",
    )
    p.add_argument(
        "--days",
        type=int,
        default=_env_default("ENGAGEMENT_DAYS", int) or 120,
        help="days of history [ENGAGEMENT_DAYS] (default 120)",
    )
    p.add_argument(
        "--end-date",
        type=_date,
        default=_env_default("ENGAGEMENT_END_DATE", _date),
        help="last day, YYYY-MM-DD [ENGAGEMENT_END_DATE] (default yesterday, UTC)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=_env_default("ENGAGEMENT_SEED", int) or 42,
        help="random seed [ENGAGEMENT_SEED] (default 42)",
    )
    p.add_argument(
        "--crm-url",
        default=_env_default("ENGAGEMENT_CRM_URL"),
        help="write the CRM here instead of OUT/crm.sqlite [ENGAGEMENT_CRM_URL]",
    )
    p.add_argument(
        "--bad-rows",
        type=float,
        default=_env_default("ENGAGEMENT_BAD_ROWS", float) or 0.0,
        help="share of rows given a realistic defect, plus one broken file (e.g. 0.01) [ENGAGEMENT_BAD_ROWS]",
    )
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser(
        "demo",
        help="generate the sample and run every stage over it (what `make demo` runs)",
        description="Generate the embedded sample under .local/ and run the whole pipeline over every generated day.",
    )
    p.add_argument("--accounts", type=int, default=300, help="number of accounts (default 300)")
    p.add_argument("--days", type=int, default=120, help="days of history ending yesterday (default 120)")
    p.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    p.add_argument(
        "--bad-rows",
        type=float,
        default=0.01,
        help="share of rows given a realistic defect, plus one broken file (default 0.01; 0 for clean data)",
    )
    p.add_argument(
        "--config", default=_env_default("ENGAGEMENT_CONFIG"), help="scoring config YAML [ENGAGEMENT_CONFIG]"
    )
    p.set_defaults(func=cmd_demo)

    from include.scoring.core.sources import EXTRACT_SOURCES

    p = sub.add_parser(
        "extract",
        help="landing files and CRM snapshot of one day into the raw lake",
        description="Extract one day into raw/<source>/dt=D.",
    )
    p.add_argument(
        "--date",
        type=_date,
        required=_env_default("ENGAGEMENT_DATE", _date) is None,
        default=_env_default("ENGAGEMENT_DATE", _date),
        help="day to extract, YYYY-MM-DD [ENGAGEMENT_DATE]",
    )
    p.add_argument(
        "--source", action="append", choices=EXTRACT_SOURCES, help="only this source (repeatable; default all)"
    )
    _common(p)
    p.set_defaults(func=cmd_extract)

    from include.scoring.core.sources import VALIDATE_SOURCES

    p = sub.add_parser(
        "validate",
        help="Great Expectations checks of one day: valid and quarantine partitions",
        description="Validate raw/<source>/dt=D into valid/ and quarantine/ (SPEC section 2).",
    )
    p.add_argument(
        "--date",
        type=_date,
        required=_env_default("ENGAGEMENT_DATE", _date) is None,
        default=_env_default("ENGAGEMENT_DATE", _date),
        help="day to validate [ENGAGEMENT_DATE]",
    )
    p.add_argument(
        "--source",
        action="append",
        choices=VALIDATE_SOURCES,
        help="only this source (repeatable; default all; crm = its four tables)",
    )
    p.add_argument(
        "--reprocess-quarantine",
        action="store_true",
        help="re-validate the day's quarantined rows (after an upstream fix or a config change); rows that now pass move to valid",
    )
    _common(p)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser(
        "resolve",
        help="identity resolution of one day: every event to an account and a person, or a reason",
        description="Resolve valid events of day D to accounts and persons (SPEC section 4).",
    )
    p.add_argument(
        "--date",
        type=_date,
        required=_env_default("ENGAGEMENT_DATE", _date) is None,
        default=_env_default("ENGAGEMENT_DATE", _date),
        help="day to resolve [ENGAGEMENT_DATE]",
    )
    p.add_argument(
        "--evaluate-against",
        metavar="TRUTH_DIR",
        default=_env_default("ENGAGEMENT_TRUTH"),
        help="generator ground truth folder (e.g. .local/sample/truth): print precision and recall [ENGAGEMENT_TRUTH]",
    )
    _common(p)
    p.set_defaults(func=cmd_resolve)

    p = sub.add_parser(
        "score",
        help="score accounts for one day (replays history when the previous state is unusable)",
        description="Score day D from the state of D-1 (SPEC section 5).",
    )
    p.add_argument(
        "--date",
        type=_date,
        required=_env_default("ENGAGEMENT_DATE", _date) is None,
        default=_env_default("ENGAGEMENT_DATE", _date),
        help="day to score [ENGAGEMENT_DATE]",
    )
    _common(p)
    p.set_defaults(func=cmd_score)

    p = sub.add_parser(
        "explain",
        help="why an account has its score on a day: points by signal and person, resets, last touch",
        description="Print the explanation ledger of one account on one day.",
    )
    p.add_argument("--account", required=True, help="account id (e.g. ACC-000042)")
    p.add_argument(
        "--date",
        type=_date,
        required=_env_default("ENGAGEMENT_DATE", _date) is None,
        default=_env_default("ENGAGEMENT_DATE", _date),
        help="day [ENGAGEMENT_DATE]",
    )
    _common(p)
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser(
        "backtest",
        help="re-score history under another config and compare it with the current one",
        description="Replay history in memory under --config FILE (the candidate) and the current config (--current-config or ENGAGEMENT_CONFIG), and compare bands and ROC AUC.",
    )
    p.add_argument("--start", type=_date, required=True, help="first day compared")
    p.add_argument("--end", type=_date, required=True, help="last day compared")
    p.add_argument("--landing", default=None, help=argparse.SUPPRESS)
    p.add_argument("--crm-url", default=None, help=argparse.SUPPRESS)
    p.add_argument("--lake", default=None, metavar="LAKE", help="lake root [ENGAGEMENT_LAKE]")
    p.add_argument("--warehouse-url", default=None, help=argparse.SUPPRESS)
    p.add_argument("--config", dest="candidate", required=True, metavar="FILE", help="the candidate config to evaluate")
    p.add_argument(
        "--current-config",
        dest="config",
        default=None,
        metavar="FILE",
        help="the config in use [ENGAGEMENT_CONFIG] (default: the shipped one)",
    )
    p.set_defaults(func=cmd_backtest)

    p = sub.add_parser(
        "publish",
        help="publish one day: warehouse, then CRM push and alert emails behind the quality gate",
        description="Publish day D (SPEC section 6). Exits 1 when the gate holds or alerts cannot be sent (the warehouse is written either way).",
    )
    p.add_argument(
        "--date",
        type=_date,
        required=_env_default("ENGAGEMENT_DATE", _date) is None,
        default=_env_default("ENGAGEMENT_DATE", _date),
        help="day to publish [ENGAGEMENT_DATE]",
    )
    _common(p)
    p.set_defaults(func=cmd_publish)

    p = sub.add_parser(
        "init-crm",
        help="add the engagement columns to the CRM accounts table (explicit, idempotent)",
        description="Create engagement_score, engagement_band, engagement_trend and engagement_scored_at on the CRM's accounts table.",
    )
    _common(p)
    p.set_defaults(func=cmd_init_crm)

    p = sub.add_parser(
        "report",
        help="the monthly calibration report: HTML, PDF, metrics JSON and a suggested config",
        description="Compute the calibration report of one month (SPEC section 6; docs/report.md) into <report folder>/month=YYYY-MM/. Fails when a day of the month has no published scores.",
    )
    p.add_argument(
        "--month",
        required=_env_default("ENGAGEMENT_MONTH") is None,
        default=_env_default("ENGAGEMENT_MONTH"),
        help="month to report on, YYYY-MM [ENGAGEMENT_MONTH]",
    )
    p.add_argument(
        "--out",
        default=_env_default("ENGAGEMENT_REPORT_DIR"),
        metavar="DIR",
        help="folder of the month=YYYY-MM/ report folders [ENGAGEMENT_REPORT_DIR] (default: calibration.report_dir, else <lake>/reports)",
    )
    p.add_argument(
        "--email", action="store_true", help="also email it to calibration.recipients through ENGAGEMENT_SMTP_URL"
    )
    _common(p)
    p.set_defaults(func=cmd_report)

    p = sub.add_parser(
        "forget",
        help="right to erasure: remove a person from the lake and the warehouse, re-score, audit",
        description="Erase the person of an email address (and the cookies and CRM contact linked to them) from every lake partition and the warehouse, "
        "re-resolve and re-score the affected days, keep salted hashes so extract drops them from now on, and record the request in the "
        "warehouse table privacy_erasures (docs/privacy.md). The CRM and the landing files are not changed: ask their owners to delete the person there.",
    )
    p.add_argument(
        "--email",
        required=True,
        metavar="ADDRESS",
        help="the address to erase (normalised: case, spaces and +tags do not matter)",
    )
    p.add_argument(
        "--requested-by",
        default=_env_default("ENGAGEMENT_REQUESTED_BY"),
        metavar="NAME",
        help="who asked, for the audit row [ENGAGEMENT_REQUESTED_BY] (default: the OS user)",
    )
    p.add_argument("--dry-run", action="store_true", help="print what would be removed and recomputed; change nothing")
    p.add_argument(
        "--no-crm-push",
        action="store_true",
        help="do not push the latest day's recomputed scores to the CRM (the next daily run does)",
    )
    _common(p)
    p.set_defaults(func=cmd_forget)

    p = sub.add_parser(
        "export",
        help="one day's account scores as CSV (cells guarded against spreadsheet formulas)",
        description="Write day D's account scores (lake scores/dt=D) as CSV. Text cells that a spreadsheet could read as a formula "
        "(starting with = + - @, tab or a line break) get a leading single quote; numbers stay numbers (docs/security.md).",
    )
    p.add_argument(
        "--date",
        type=_date,
        required=_env_default("ENGAGEMENT_DATE", _date) is None,
        default=_env_default("ENGAGEMENT_DATE", _date),
        help="day to export [ENGAGEMENT_DATE]",
    )
    p.add_argument("--out", default=None, metavar="FILE", help="CSV file to write (default: standard output)")
    _common(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser(
        "run",
        help="every stage, day by day, over a date range",
        description="Run every stage for each day from --start to --end (inclusive).",
    )
    p.add_argument(
        "--start",
        type=_date,
        required=_env_default("ENGAGEMENT_START", _date) is None,
        default=_env_default("ENGAGEMENT_START", _date),
        help="first day [ENGAGEMENT_START]",
    )
    p.add_argument(
        "--end",
        type=_date,
        required=_env_default("ENGAGEMENT_END", _date) is None,
        default=_env_default("ENGAGEMENT_END", _date),
        help="last day [ENGAGEMENT_END]",
    )
    _common(p)
    p.set_defaults(func=cmd_run)
    return parser


def _configure_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("great_expectations", "matplotlib", "urllib3", "fsspec"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    try:
        return args.func(args)
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception:  # noqa: BLE001 - a bug, not a user mistake: show everything
        traceback.print_exc()
        print("error: unexpected internal error (a bug); please report it with the traceback above", file=sys.stderr)
        return 1
