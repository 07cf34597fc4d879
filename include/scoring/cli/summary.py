"""The end-of-run summary the CLI prints: what went in, where it went, what came out."""

from __future__ import annotations

import os
from collections import defaultdict
from datetime import timedelta

from include.scoring.cli.terminal import safe_lines
from include.scoring.context import RunContext
from include.scoring.core.urls import mask_url
from include.scoring.lake import catalog
from include.scoring.runner import RangeReport


def _table(rows: list[tuple], headers: tuple) -> list[str]:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    fmt = "  ".join(f"{{:{'>' if i else '<'}{w}}}" for i, w in enumerate(widths))
    out = [fmt.format(*headers), fmt.format(*("-" * w for w in widths))]
    out += [fmt.format(*row) for row in rows]
    return out


def run_summary_lines(ctx: RunContext, report: RangeReport) -> list[str]:
    lines = [
        "",
        f"Processed {report.days} day(s), {report.start} to {report.end}, in {report.seconds:.0f}s",
        f"Lake:      {ctx.lake.root}",
        f"Landing:   {ctx.settings.landing}",
        "",
    ]
    raw = defaultdict(lambda: [0, 0, 0, 0])
    for result in report.per_stage.get("extract", []):
        if result.unit.startswith("reference"):
            continue
        entry = raw[result.unit]
        entry[0] += result.count("rows")
        entry[1] += result.count("files")
        entry[2] += result.count("rows_with_errors")
        entry[3] += result.count("erased")
    if raw:
        erased = any(v[3] for v in raw.values())  # rows of erased persons (forget), dropped at extract
        rows = [
            (src, f"{v[0]:,}", f"{v[1]:,}", f"{v[2]:,}", *([f"{v[3]:,}"] if erased else [])) for src, v in raw.items()
        ]
        lines += ["Extracted (raw rows over all days; CRM tables are daily snapshots)"]
        lines += _table(
            rows, ("source", "rows", "files", "unreadable values", *(["erased (privacy)"] if erased else []))
        )
    lines += _validation_lines(report)
    lines += _resolution_lines(report)
    lines += publish_lines(ctx, report)
    lines += band_share_lines(report, ctx.config.accumulation.window_days)
    lines += _top_accounts_lines(ctx, report)
    return lines


def publish_lines(ctx: RunContext, report: RangeReport) -> list[str]:
    """Where the run published: days, alerts, resets, the ledger, the quality gate's holds and why."""
    results = report.per_stage.get("publish", [])
    if not results:
        return []
    published = [r for r in results if r.unit == "warehouse"]
    pushes = [r for r in results if r.unit == "crm"]
    alerts = [r for r in results if r.unit == "alerts"]
    held = [r for r in published if r.details["gate"] == "held"]
    unbalanced = [r.day.isoformat() for r in published if r.details["ledger"] != "balanced"]

    lines = [
        "",
        f"Published {len(published)} day(s) to the warehouse {mask_url(ctx.settings.warehouse_url)}: "
        f"{sum(r.count('alerts_new') for r in published):,} alert crossings, "
        f"{sum(r.count('resets') for r in published):,} resets; reconciliation ledger "
        f"{'balanced every day' if not unbalanced else 'NOT balanced on ' + ', '.join(unbalanced)}",
        f"  quality gate: {'passed every day with history' if not held else f'HELD on {len(held)} day(s)'}",
        *(f"    {r.day}: {r.details.get('gate_reasons') or '(no reason recorded)'}" for r in held),
        f"  CRM push: {sum(p.count('updated') for p in pushes):,} account updates"
        + (f" ({pushes[-1].details['skipped']})" if pushes and pushes[-1].details["skipped"] else ""),
    ]
    if alerts:
        last = alerts[-1]
        lines.append(
            f"  alert emails: {sum(a.count('sent') for a in alerts):,} sent, {last.count('pending'):,} pending"
            + (f" ({last.details['note']})" if last.details.get("note") else "")
        )
    return lines


def _resolution_lines(report: RangeReport) -> list[str]:
    results = report.per_stage.get("resolve", [])
    if not results:
        return []
    total = results[0].merged(results[1:])
    events, resolved = total.count("events"), total.count("resolved")
    unresolved, filtered = total.count("unresolved"), total.count("filtered")
    methods, reasons = total.breakdowns["by_method"], total.breakdowns["by_reason"]
    dropped = total.breakdowns["filtered_by_reason"]
    top = lambda d: ", ".join(f"{k} {v:,}" for k, v in sorted(d.items(), key=lambda kv: -kv[1]))  # noqa: E731
    humans = events - filtered
    return [
        "",
        f"Resolved {resolved:,} of {humans:,} human events to accounts ({resolved / humans:.1%}); {unresolved:,} "
        f"unresolved, {filtered:,} filtered as non-human or duplicate"
        if humans
        else "Resolved: no events",
        f"  by method:   {top(methods)}",
        f"  unresolved:  {top(reasons) or '-'}",
        f"  filtered:    {top(dropped) or '-'}",
    ]


ARROW = {"up": "\u2191", "down": "\u2193", "flat": "\u2192"}


def top_accounts(ctx: RunContext, day, n: int = 15):
    """The top prospect accounts of a day, as the dashboard shows them."""
    scores = ctx.lake.read_df(catalog.SCORES, day)
    prospects = (
        scores[scores["lifecycle"] != "customer"].sort_values(["score", "account_id"], ascending=[False, True]).head(n)
    )
    rows = []
    for r in prospects.itertuples():
        touch = (
            "-"
            if r.last_touch_at is None or str(r.last_touch_at) == "NaT"
            else f"{r.last_touch_at:%Y-%m-%d} {r.last_touch_signal}"
        )
        since = "-" if str(r.days_since_engagement) in ("<NA>", "nan", "None") else f"{int(r.days_since_engagement)}d"
        tier = "-" if str(r.abm_tier) in ("<NA>", "nan", "None") else str(int(r.abm_tier))
        rows.append(
            (
                str(r.account_name)[:28],
                str(r.account_id),
                tier,
                f"{r.score:,.2f}",
                "-" if str(r.engagement_percentile) in ("<NA>", "nan", "None") else f"{r.engagement_percentile:.0f}",
                r.band.replace("_", " "),
                f"{ARROW.get(r.trend, '')} {r.change_7d:+.0f}" + (" surge" if r.surge else ""),
                touch[:40],
                since,
                r.next_action,
            )
        )
    return rows


def _top_accounts_lines(ctx: RunContext, report: RangeReport) -> list[str]:
    if not report.per_stage.get("score"):
        return []
    rows = top_accounts(ctx, report.end)
    lines = [
        "",
        f"Top {len(rows)} prospect accounts on {report.end} (explain any: python -m include.scoring explain "
        f"--account ID --date {report.end})",
    ]
    headers = ("account", "id", "tier", "score", "pct", "band", "trend 7d", "last touch", "since", "next action")
    return lines + _table(rows, headers)


def band_share_lines(report: RangeReport, window_days: int | None) -> list[str]:
    """Prospects per band on the last scored day of each month: with the accumulation window the
    shares stay steady once the window has filled (scores do not inflate with history)."""
    daily = {
        r.day: r.breakdowns["prospects_per_band"]
        for r in report.per_stage.get("score", [])
        if r.breakdowns.get("prospects_per_band")
    }
    if not daily:
        return []
    monthly = {day.strftime("%Y-%m"): day for day in sorted(daily)}
    bands = list(daily[min(daily)])

    def top_share(day) -> float:
        return daily[day][bands[-1]] / max(sum(daily[day].values()), 1)

    rows = [(f"{day}", *(f"{daily[day][b]:,}" for b in bands), f"{top_share(day):.0%}") for day in monthly.values()]
    title = "Prospects per band (last scored day of each month; the last column is the top band's share)"
    lines = ["", title] + _table(rows, ("day", *(b.replace("_", " ") for b in bands), "top share"))
    filled = report.start + timedelta(days=window_days) if window_days else None
    if filled is not None and filled in daily and report.end in daily and filled < report.end:
        first, last = top_share(filled), top_share(report.end)
        lines.append(
            f"{bands[-1].replace('_', ' ').capitalize()} share on {filled} (the first day after the "
            f"{window_days}-day window filled) {first:.1%}, on {report.end} {last:.1%}: "
            f"{abs(last - first) * 100:.1f} points apart"
        )
    return lines


def _validation_lines(report: RangeReport) -> list[str]:
    totals: dict[str, list] = defaultdict(lambda: [0, 0, 0, defaultdict(int)])
    for result in report.per_stage.get("validate", []):
        entry = totals[result.unit]
        entry[0] += result.count("rows")
        entry[1] += result.count("valid")
        entry[2] += result.count("quarantined")
        for check, count in result.breakdowns["quarantined_by_check"].items():
            entry[3][check] += count
    if not totals:
        return []
    rows = []
    for source, (n, valid, bad, reasons) in totals.items():
        top = ", ".join(f"{k} {v:,}" for k, v in sorted(reasons.items(), key=lambda kv: -kv[1])[:3])
        rows.append((source, f"{n:,}", f"{valid:,}", f"{bad:,}", top or "-"))
    return ["", "Validated (Great Expectations; raw = valid + quarantined)"] + _table(
        rows, ("source", "raw", "valid", "quarantined", "top reasons")
    )


def _last_full_month(report: RangeReport) -> str:
    """The last calendar month the run covers whole (the report needs every day of its month)."""
    after = report.end + timedelta(days=1)
    last = report.end if after.month != report.end.month else after.replace(day=1) - timedelta(days=1)
    if last.replace(day=1) < report.start:
        return f"{report.end:%Y-%m}"
    return f"{last:%Y-%m}"


def _report_month(ctx: RunContext, report: RangeReport) -> str:
    """The month whose report can be read now: the latest whose outcome windows have closed, else
    the last whole month run (its report then says which outcomes are pending)."""
    from include.scoring.report.months import latest_closed_month

    window = ctx.config.calibration.outcome_window_days
    return latest_closed_month(report.start, report.end, window) or _last_full_month(report)


def next_steps_lines(ctx: RunContext, report: RangeReport) -> list[str]:
    """What to do after the demo: Airflow and its dashboard, one account explained, the report."""
    base = os.environ.get("AIRFLOW__API__BASE_URL") or f"http://localhost:{os.environ.get('AIRFLOW_PORT') or 8080}"
    base = base.rstrip("/")
    top = top_accounts(ctx, report.end, n=1) if report.per_stage.get("score") else []
    account = top[0][1] if top else "ID"
    return [
        "",
        "Next steps",
        f"  Airflow UI:  make airflow, then {base} (user admin; the password is printed and kept in "
        ".local/airflow/simple_auth_manager_passwords.json.generated)",
        f"  dashboard:   {base}/engagement/ (Engagement scores in the Airflow menu); Data Docs of a day: "
        f"{base}/engagement/data-docs/{report.end}",
        f"  one account: python -m include.scoring explain --account {account} --date {report.end}",
        f"  the report:  python -m include.scoring report --month {_report_month(ctx, report)}",
        "  one day in Airflow: .venv/bin/airflow dags test engagement_daily "
        f"{report.end + timedelta(days=1)}T02:00:00+00:00 (no SMTP: alert emails land in .local/outbox)",
    ]


def print_run_summary(ctx: RunContext, report: RangeReport) -> None:
    print(safe_lines(run_summary_lines(ctx, report)))  # names come from the CRM: escapes shown, not obeyed
