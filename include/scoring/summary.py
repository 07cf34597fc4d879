"""The end-of-run summary the CLI prints: what went in, where it went, what came out."""

from __future__ import annotations

from collections import defaultdict

from include.scoring.pipeline import RangeReport, RunContext


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
    raw = defaultdict(lambda: [0, 0, 0])
    for result in report.per_stage.get("extract", []):
        if result.source.startswith("reference"):
            continue
        entry = raw[result.source]
        entry[0] += result.rows
        entry[1] += result.files
        entry[2] += result.rows_with_errors
    if raw:
        rows = [(src, f"{v[0]:,}", f"{v[1]:,}", f"{v[2]:,}") for src, v in raw.items()]
        lines += ["Extracted (raw rows over all days; CRM tables are daily snapshots)"]
        lines += _table(rows, ("source", "rows", "files", "unreadable values"))
    lines += _validation_lines(report)
    return lines


def _validation_lines(report: RangeReport) -> list[str]:
    totals: dict[str, list] = defaultdict(lambda: [0, 0, 0, defaultdict(int)])
    for result in report.per_stage.get("validate", []):
        entry = totals[result.source]
        entry[0] += result.rows
        entry[1] += result.valid
        entry[2] += result.quarantined
        if result.warnings and any("reused" in w for w in result.warnings):
            continue  # a reused CRM validation repeats the previous day's reasons
        for check in result.checks:
            if check["effect"] == "quarantined":
                entry[3][check["check"]] += check["unexpected_count"]
    if not totals:
        return []
    rows = []
    for source, (n, valid, bad, reasons) in totals.items():
        top = ", ".join(f"{k} {v:,}" for k, v in sorted(reasons.items(), key=lambda kv: -kv[1])[:3])
        rows.append((source, f"{n:,}", f"{valid:,}", f"{bad:,}", top or "-"))
    return ["", "Validated (Great Expectations; raw = valid + quarantined)"] + _table(rows, ("source", "raw", "valid", "quarantined", "top reasons"))


def print_run_summary(ctx: RunContext, report: RangeReport) -> None:
    print("\n".join(run_summary_lines(ctx, report)))
