"""The report as self-contained HTML (inline CSS, charts as base64 PNG data URIs, no external URL)
and the email summary, through Jinja2 with autoescaping: every value from the data is escaped."""

from __future__ import annotations

import base64
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from include.scoring.report.warnings import pending_windows

TEMPLATES = Path(__file__).resolve().parent / "templates"
CHART_ALT = {
    "band_distribution": "Accounts per band at the end of the month and of the previous month",
    "conversion_by_band": "Conversion by band with 95% Wilson intervals",
    "signal_lift": "Lift of each signal for closed won with 95% intervals",
    "roc_curve": "ROC curve of the score for closed won",
    "score_distribution": "Score distribution of account-days that closed won and of those that did not",
    "gains": "Cumulative gains: share of the won account-days found among the highest-scored account-days",
    "trend": "ROC AUC and closed-won rate by band, month by month",
}

#: the report's sections, in order: key -> heading (HTML, PDF and email share them)
SECTIONS = {
    "summary": "Summary",
    "bands": "Accounts per band and migration",
    "conversion": "Conversion by band",
    "lift": "Signal lift for closed won",
    "auc": "Predictive power of the score (ROC AUC)",
    "thresholds": "Alert thresholds: precision and recall",
    "customers": "Customers: churn by health state",
    "suggested": "Suggested point values",
    "quality": "Data quality",
    "method": "How this report is computed",
}


def pct(value, digits: int = 1) -> str:
    return "n/a" if value is None else f"{100 * value:.{digits}f}%"


def num(value, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def interval(low, high, kind: str = "num") -> str:
    if low is None or high is None:
        return "n/a"
    fmt = pct if kind == "pct" else num
    return f"{fmt(low)} – {fmt(high)}"


def _env(autoescape: bool = True) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        undefined=StrictUndefined,
        autoescape=select_autoescape(["html", "j2"], default_for_string=True) if autoescape else False,
    )  # noqa: S701 - text part only
    env.filters.update(pct=pct, num=num, label=lambda s: str(s).replace("_", " "))
    env.globals.update(interval=interval, pct=pct)
    return env


def judged_signals(metrics: dict) -> list[dict]:
    """Signals whose lift can be read: seen often enough, with an interval and a non-zero base rate
    (a lift over a 0% base rate is no lift at all)."""
    return [
        s
        for s in metrics["signals"]
        if not s["too_rare"]
        and s["lift"] is not None
        and s["ci_low"] is not None
        and s["ci_high"] > s["ci_low"]  # a degenerate interval (never with a win) judges nothing
        and s["won_rate_without"]
    ]


def headline(metrics: dict) -> list[tuple[str, str]]:
    """The numbers the summary (report and email) leads with."""
    bands = {b["band"]: b["accounts"] for b in metrics["bands"]["end_of_month"]}
    top_two = list(bands)[-2:]
    pending = pending_windows(metrics)
    out = [
        ("Accounts scored on " + metrics["last_day"], num(sum(bands.values()))),
        (" + ".join(b.replace("_", " ") for b in top_two) + " accounts", num(sum(bands[b] for b in top_two))),
    ]
    if pending and not metrics["outcomes"]["labelled_account_days"]:  # the month is not over: nothing is 0 yet
        out += [("Closed-won outcomes", f"pending until {pending['close_until']}")]
    else:
        out += [
            ("Closed-won outcomes known", num(metrics["outcomes"]["won"])),
            ("Opportunities created (known)", num(metrics["outcomes"]["created"])),
        ]
    auc = metrics["auc"]
    if metrics["reliable"] and auc["value"] is not None:
        out.append(("ROC AUC of the score", f"{auc['value']:.2f} ({interval(auc['ci_low'], auc['ci_high'])})"))
        judged = judged_signals(metrics)
        if judged:
            best, worst = max(judged, key=lambda s: s["lift"]), min(judged, key=lambda s: s["lift"])
            for key, s in (("Strongest signal", best), ("Weakest signal", worst)):
                lift = f"lift {s['lift']:.1f}, 95% interval {s['ci_low']:.1f}-{s['ci_high']:.1f}"
                out.append((key, f"{s.get('label', s['signal'])} ({lift})"))
        if metrics["suggested_threshold"]:
            out.append(
                (
                    "Suggested alert threshold",
                    f"above {metrics['suggested_threshold']['threshold']:g} (F1 "
                    f"{metrics['suggested_threshold']['f1']:.2f})",
                )
            )
    out.append(("Warnings", ", ".join(w["code"] for w in metrics.get("warnings", [])) or "none"))
    return out


def render_html(metrics: dict, charts: dict[str, bytes], diff: str) -> str:
    images = {
        name: {"src": "data:image/png;base64," + base64.b64encode(png).decode("ascii"), "alt": CHART_ALT[name]}
        for name, png in charts.items()
    }
    return (
        _env()
        .get_template("calibration_report.html.j2")
        .render(m=metrics, charts=images, diff=diff, sections=SECTIONS, headline=headline(metrics))
    )


def render_email(metrics: dict) -> tuple[str, str, str]:
    """Subject, plain text and HTML of the stakeholder email."""
    if metrics["reliable"] and metrics["auc"]["value"] is not None:
        status = f"ROC AUC {metrics['auc']['value']:.2f}, {metrics['outcomes']['won']} closed-won outcomes"
    else:
        status = f"not reliable ({metrics['outcomes']['won']} closed-won outcomes)"
    subject = f"Engagement scoring calibration report {metrics['month']}: {status}"
    context = {"m": metrics, "subject": subject, "headline": headline(metrics)}
    return (
        subject,
        _env(False).get_template("calibration_email.txt.j2").render(context),
        _env().get_template("calibration_email.html.j2").render(context),
    )


def headline_lines(m: dict, path: str) -> list[str]:
    """The report in a few printed lines (the demo's last words): path, reliability, AUC, the
    strongest and weakest judged signal, and the warnings' codes."""
    out = [f"Calibration report {m['month']} ({'reliable' if m['reliable'] else 'not reliable'}): {path}"]
    auc = m["auc"]
    if auc["value"] is not None:
        ci = f" (95% interval {auc['ci_low']:.2f}-{auc['ci_high']:.2f})" if auc["ci_low"] is not None else ""
        out.append(f"  ROC AUC {auc['value']:.2f}{ci} over {m['outcomes']['won']} closed-won outcomes")
    judged = judged_signals(m)
    if judged:
        best, worst = max(judged, key=lambda s: s["lift"]), min(judged, key=lambda s: s["lift"])
        out.append(
            f"  strongest signal {best.get('label', best['signal'])} (lift {best['lift']:.1f}), weakest "
            f"{worst.get('label', worst['signal'])} "
            f"(lift {worst['lift']:.1f})"
        )
    if not m["reliable"]:
        out.append(f"  {m['reliability_note']}")
    codes = [w["code"] for w in m.get("warnings", [])]
    out.append("  warnings: " + (", ".join(codes) if codes else "none"))
    return out
