"""The command line's parser: every command, its options and `--help` text (SPEC section 7).

Every option can also come from the environment variable shown in `--help`; each command's
function is in commands.py.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from datetime import date

from include.scoring.cli import commands

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
        print(f"error: environment variable {var}={value!r} is not valid", file=sys.stderr)
        raise SystemExit(2) from None


def _common(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("locations (default: the embedded sample under .local/)")
    for flag, env, text in COMMON:
        group.add_argument(flag, default=None, metavar=flag.strip("-").split("-")[-1].upper(), help=f"{text} [{env}]")


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
        default=_env_default("ENGAGEMENT_DAYS", int) or 180,
        help="days of history [ENGAGEMENT_DAYS] (default 180)",
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
    p.set_defaults(func=commands.cmd_generate)

    p = sub.add_parser(
        "demo",
        help="generate the sample and run every stage over it (what `make demo` runs)",
        description="Generate the embedded sample under .local/ and run the whole pipeline over every generated day.",
    )
    p.add_argument("--accounts", type=int, default=300, help="number of accounts (default 300)")
    p.add_argument("--days", type=int, default=180, help="days of history ending yesterday (default 180)")
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
    p.set_defaults(func=commands.cmd_demo)

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
    p.add_argument(
        "--crm-full-refresh",
        action="store_true",
        help="read a Salesforce or HubSpot CRM whole, not just what changed since the last snapshot",
    )
    _common(p)
    p.set_defaults(func=commands.cmd_extract)

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
        help="re-validate the day's quarantined rows (after an upstream fix or a config change); rows that now pass "
        "move to valid",
    )
    _common(p)
    p.set_defaults(func=commands.cmd_validate)

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
    p.set_defaults(func=commands.cmd_resolve)

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
    p.set_defaults(func=commands.cmd_score)

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
    p.set_defaults(func=commands.cmd_explain)

    p = sub.add_parser(
        "backtest",
        help="re-score history under another config and compare it with the current one",
        description="Replay history in memory under --config FILE (the candidate) and the current config "
        "(--current-config or ENGAGEMENT_CONFIG), and compare bands and ROC AUC.",
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
    p.set_defaults(func=commands.cmd_backtest)

    p = sub.add_parser(
        "publish",
        help="publish one day: warehouse, then CRM push and alert emails behind the quality gate",
        description="Publish day D (SPEC section 6). Exits 1 when the gate holds or alerts cannot be sent (the "
        "warehouse is written either way).",
    )
    p.add_argument(
        "--date",
        type=_date,
        required=_env_default("ENGAGEMENT_DATE", _date) is None,
        default=_env_default("ENGAGEMENT_DATE", _date),
        help="day to publish [ENGAGEMENT_DATE]",
    )
    _common(p)
    p.set_defaults(func=commands.cmd_publish)

    p = sub.add_parser(
        "init-crm",
        help="add the engagement columns to a SQL CRM; check the fields of Salesforce or HubSpot",
        description="SQL CRM: create engagement_score, engagement_band, engagement_trend, engagement_percentile, "
        "engagement_health and engagement_scored_at on "
        "the accounts table (explicit, idempotent). Salesforce / HubSpot: check that the push fields exist and say "
        "exactly which to create (exit 1 when some are missing; fields are never created in your CRM).",
    )
    _common(p)
    p.set_defaults(func=commands.cmd_init_crm)

    p = sub.add_parser(
        "report",
        help="the monthly calibration report: HTML, PDF, metrics JSON and a suggested config",
        description="Compute the calibration report of one month (SPEC section 6; docs/report.md) into <report "
        "folder>/month=YYYY-MM/. Fails when a day of the month has no published scores.",
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
        help="folder of the month=YYYY-MM/ report folders [ENGAGEMENT_REPORT_DIR] (default: calibration.report_dir, "
        "else <lake>/reports)",
    )
    p.add_argument(
        "--email", action="store_true", help="also email it to calibration.recipients through ENGAGEMENT_SMTP_URL"
    )
    _common(p)
    p.set_defaults(func=commands.cmd_report)

    p = sub.add_parser(
        "forget",
        help="right to erasure: remove a person from the lake and the warehouse, re-score, audit",
        description="Erase the person of an email address (and the cookies and CRM contact linked to them) from "
        "every lake partition and the warehouse, "
        "re-resolve and re-score the affected days, keep salted hashes so extract drops them from now on, and record "
        "the request in the "
        "warehouse table privacy_erasures (docs/privacy.md). The CRM and the landing files are not changed: ask "
        "their owners to delete the person there.",
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
    p.set_defaults(func=commands.cmd_forget)

    p = sub.add_parser(
        "export",
        help="one day's account scores as CSV (cells guarded against spreadsheet formulas)",
        description="Write day D's account scores (lake scores/dt=D) as CSV. Text cells that a spreadsheet could "
        "read as a formula "
        "(starting with = + - @, tab or a line break) get a leading single quote; numbers stay numbers "
        "(docs/security.md).",
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
    p.set_defaults(func=commands.cmd_export)

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
    p.set_defaults(func=commands.cmd_run)
    return parser
