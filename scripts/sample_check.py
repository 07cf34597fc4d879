"""Judge a generator change: run a generated sample through every stage and print, as one JSON line,
every property the score-model and calibration tests ask of the default sample.

The demo's stationarity (SPEC 5, issue 19) and the calibration report's findings both depend on
the generator's random draws; a change that fixes one can break the other, and one sample says
little (a month of 300 accounts holds 30-45 closed-won outcomes). Run the 120-day test sample and
the 180-day demo for several end dates (the demo's weekday changes the draws) before landing one:

    python -m scripts.sample_check --end 2026-11-20 --days 120 --month 2026-08 --min-closed-won 10
    python -m scripts.sample_check --end 2026-12-04 --days 180 --crm-changes    # as `make demo` would

Printed: prospects per band (cold, warm, hot, very hot) on the first day after the accumulation
window filled and on the last day, the Very Hot shares and their drift, whether the last day falls
off from cold to very hot, the Very Hot share on the first of each month, and for the report month
the closed-won outcomes, ROC AUC with its interval, the top five signals' lifts, email_open's rank
(the test wants it in the bottom third) and lift interval, and the conversion intervals of very hot
against cold.
"""

from __future__ import annotations

import argparse
import json
import shutil
from datetime import date, timedelta
from pathlib import Path

from include.sample import generate
from include.sample.landing import apply_crm_changes
from include.scoring.context import RunContext
from include.scoring.core.settings import Settings, local_home, sqlite_url
from include.scoring.lake import catalog
from include.scoring.report.months import latest_closed_month
from include.scoring.report.stage import build_report
from include.scoring.runner import run_range

BANDS = ("cold", "warm", "hot", "very_hot")


def prospect_bands(ctx: RunContext, day: date) -> list[int]:
    scores = ctx.lake.read_df(catalog.SCORES, day)
    counts = scores[scores["lifecycle"] != "customer"]["band"].value_counts()
    return [int(counts.get(b, 0)) for b in BANDS]


def very_hot_share(counts: list[int]) -> float:
    return round(100 * counts[-1] / max(sum(counts), 1), 1)


def report_findings(ctx: RunContext, month: str, min_closed_won: int | None, out: Path) -> dict:
    config = ctx.config
    if min_closed_won is not None:
        calibration = config.calibration.model_copy(update={"min_closed_won": min_closed_won})
        config = config.model_copy(update={"calibration": calibration})
    m = build_report(ctx.lake, config, ctx.settings.warehouse_url, month, out_root=str(out / "reports")).metrics
    found = {"month": month, "reliable": m["reliable"], "won": m["outcomes"]["won"]}
    if not m["reliable"]:
        return found
    ranked = [s for s in m["signals"] if not s["too_rare"] and s["lift"] is not None]
    names = [s["signal"] for s in ranked]
    opens = ranked[names.index("email_open")] if "email_open" in names else None
    conv = {c["band"]: c["won"] for c in m["conversion_by_band"]}
    return found | {
        "auc": [round(m["auc"][k], 3) for k in ("value", "ci_low", "ci_high")],
        "top5": [[s["signal"], round(s["lift"], 2)] for s in ranked[:5]],
        "email_open_rank": [names.index("email_open") if opens else None, len(ranked) * 2 // 3],
        "email_open_interval": [round(opens["ci_low"], 2), round(opens["ci_high"], 2)] if opens else None,
        "very_hot_low_vs_cold_high": [round(conv["very_hot"]["ci_low"], 3), round(conv["cold"]["ci_high"], 3)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--end", type=date.fromisoformat, required=True, help="last generated day (YYYY-MM-DD)")
    parser.add_argument("--days", type=int, default=180, help="days of history (default 180, the demo's)")
    parser.add_argument("--accounts", type=int, default=300, help="accounts (default 300)")
    parser.add_argument("--seed", type=int, default=42, help="generator seed (default 42)")
    parser.add_argument("--bad-rows", type=float, default=0.01, help="share of defective rows (default 0.01)")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="working folder (default: sample-check-END under .local/ or ENGAGEMENT_HOME)",
    )
    parser.add_argument("--month", default=None, help="report month (default: the latest with closed windows)")
    parser.add_argument("--min-closed-won", type=int, default=None, help="override calibration.min_closed_won")
    parser.add_argument("--crm-changes", action="store_true", help="apply the dated CRM changes, as the demo does")
    args = parser.parse_args()
    out = args.out or local_home() / f"sample-check-{args.end}"
    shutil.rmtree(out, ignore_errors=True)
    summary = generate(
        out / "sample",
        accounts=args.accounts,
        days=args.days,
        end_date=args.end,
        seed=args.seed,
        bad_rows=args.bad_rows,
    )
    settings = Settings(
        landing=str(out / "sample" / "landing"),
        crm_url=summary.crm_url,
        lake=str(out / "lake"),
        warehouse_url=sqlite_url(out / "warehouse.sqlite"),
        config_path=None,
        truth=str(out / "sample" / "truth"),
    )
    ctx = RunContext(settings)
    before = (lambda day: apply_crm_changes(settings.crm_url, day)) if args.crm_changes else None
    run_range(ctx, summary.start, summary.end, echo=lambda _: None, before_day=before)
    filled = summary.start + timedelta(days=ctx.config.accumulation.window_days)
    first, last = prospect_bands(ctx, filled), prospect_bands(ctx, summary.end)
    days = (summary.start + timedelta(days=i) for i in range((summary.end - summary.start).days + 1))
    result = {
        "end": str(args.end),
        "days": args.days,
        "accounts": args.accounts,
        "filled": first,
        "last": last,
        "drift": round(very_hot_share(last) - very_hot_share(first), 1),
        "falls_off": last == sorted(last, reverse=True),
        "very_hot_share_by_month": {str(d): very_hot_share(prospect_bands(ctx, d)) for d in days if d.day == 1},
    }
    month = args.month or latest_closed_month(summary.start, summary.end, ctx.config.calibration.outcome_window_days)
    if month:
        result["report"] = report_findings(ctx, month, args.min_closed_won, out)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
