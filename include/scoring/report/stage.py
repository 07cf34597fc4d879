"""The monthly calibration report for month M (SPEC section 6): compute, write, email.

`build_report` checks that every day of M is published, computes the figures (metrics.py,
suggest.py, quality.py), renders charts, HTML and PDF, and writes one folder per month:
`<calibration.report_dir or <lake>/reports>/month=YYYY-MM/` with report.html, report.pdf,
metrics.json (schema: docs/metrics.md), suggested_config.yaml and suggested_config.diff. The folder
is written next to its final place and renamed into it, so a crash never leaves half a report.
`email_report` sends the HTML summary with the PDF attached to `calibration.recipients`.
"""

from __future__ import annotations

import json
import logging
import posixpath
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

import fsspec

from include.scoring.core.config import ScoringConfig
from include.scoring.core.errors import PipelineError
from include.scoring.lake.store import Lake
from include.scoring.report import metrics as m
from include.scoring.report.bands import band_thresholds
from include.scoring.report.changes import TREND_MONTHS, changes_since, open_windows, outcome_words, trend_point
from include.scoring.report.customers import churn_by_health
from include.scoring.report.data import MonthData, check_complete, load_month, signal_labels
from include.scoring.report.months import parse_month, previous_month
from include.scoring.report.quality import data_quality
from include.scoring.report.suggest import STABILITY_SAMPLES, STABLE_SHARE, Suggestion, suggest
from include.scoring.report.warnings import report_warnings

log = logging.getLogger(__name__)
SCHEMA_VERSION = 1
FILES = ("report.html", "report.pdf", "metrics.json", "suggested_config.yaml", "suggested_config.diff")
#: Section titles, shared by the HTML, the PDF and the tests.
NOT_RELIABLE = "Not reliable"


@dataclass
class ReportResult:
    month: str
    folder: str
    metrics: dict
    html: str
    pdf: bytes
    files: dict[str, str] = field(default_factory=dict)

    @property
    def reliable(self) -> bool:
        return bool(self.metrics["reliable"])

    def line(self) -> str:
        auc = self.metrics["auc"]["value"]
        figures = f"AUC {auc:.3f}" if auc is not None else "figures withheld (not reliable)"
        return f"report {self.month}  {outcome_words(self.metrics)}, {figures}; written to {self.folder}"

    def headline_lines(self) -> list[str]:
        """What the demo prints about the report: its path, reliability, AUC, best and worst signal, warnings."""
        from include.scoring.report.render import headline_lines

        return headline_lines(self.metrics, self.files.get("report.html", self.folder))


def report_folder(lake: Lake, config: ScoringConfig, month: str, out_root: str | None = None) -> str:
    root = (out_root or config.calibration.report_dir or posixpath.join(lake.root, "reports")).rstrip("/")
    return posixpath.join(root, f"month={month}")


def _reliability(data: MonthData, config: ScoringConfig) -> tuple[bool, str]:
    need = config.calibration.min_closed_won
    won = data.won_outcomes
    if data.labelled.empty and len(data.rows):
        n = config.calibration.outcome_window_days
        return False, (
            f"{NOT_RELIABLE} yet: the outcomes of {data.month} are pending, every {n}-day outcome window is still "
            f"open on {data.report_date} (they close on {data.first + timedelta(days=n)} .. "
            f"{data.last + timedelta(days=n)}). The figures are withheld; run the report again once the windows "
            "have closed."
        )
    if won >= need:
        return (
            True,
            f"{won} closed-won outcomes are known for {data.month} (at least {need} needed): the figures below are "
            "reliable enough to act on, within their intervals.",
        )
    return False, (
        f"{NOT_RELIABLE}: only {won} closed-won outcome(s) are known for {data.month}, fewer than the {need} needed "
        "(calibration.min_closed_won). The conversion, lift, AUC, threshold and suggested-points figures are "
        "withheld; "
        f"wait for more outcomes (a later report date or a longer history) before changing the scoring."
    )


def _withheld(metrics: dict) -> None:
    """Unreliable month: keep the counts, drop every outcome-based figure."""
    for entry in metrics["conversion_by_band"]:
        for kind in ("created", "won"):
            entry[kind] = {"accounts": None, "rate": None, "ci_low": None, "ci_high": None}
    for entry in metrics["signals"]:
        entry.update({"won_rate_with": None, "won_rate_without": None, "lift": None, "ci_low": None, "ci_high": None})
    metrics["auc"] = {"value": None, "ci_low": None, "ci_high": None, "curve": None}
    for entry in metrics["thresholds"]:
        entry.update(
            {"precision": None, "recall": None, "f1": None, "flagged_account_days": None, "true_positives": None}
        )
    metrics["suggested_threshold"] = None
    bt = metrics["band_thresholds"]
    for entry in bt.get("current", []) + bt.get("proposed", []):
        entry.update({"won": None, "won_rate": None, "ci_low": None, "ci_high": None})


def previous_metrics(folder: str, month: str) -> dict | None:
    path = posixpath.join(posixpath.dirname(folder), f"month={previous_month(month)}", "metrics.json")
    fs, p = fsspec.core.url_to_fs(path)
    try:
        if fs.exists(p):
            with fs.open(p, "r") as fh:
                return json.load(fh)
    except (OSError, ValueError):
        log.warning("previous report %s is unreadable; 'what changed' uses the warehouse only", path)
    return None


def previous_reports(folder: str, month: str, n: int) -> list[dict]:
    """metrics.json of the `n` months before `month` in the report folder, oldest first, up to the
    first month missing (a trend has no holes)."""
    out = []
    for _ in range(n):
        found = previous_metrics(folder, month)
        if found is None or found.get("month") != previous_month(month):
            break
        out.insert(0, found)
        month = previous_month(month)
    return out


def compute(
    lake: Lake,
    config: ScoringConfig,
    warehouse_url: str,
    month: str,
    *,
    config_path: str | None = None,
    task_runs: dict | None = None,
) -> tuple[dict, MonthData, Suggestion]:
    """Every figure of the report (metrics.json content), the month data and the suggestion."""
    cal = config.calibration
    first, last = parse_month(month)
    report_date = check_complete(warehouse_url, month)
    data = load_month(lake, config, warehouse_url, month, report_date)
    reliable, note = _reliability(data, config)
    labelled = data.labelled
    weights, codes = m.bootstrap_weights(labelled["account_id"], cal.bootstrap_samples, cal.seed)
    end_bands = m.band_distribution(data.scores, last, config)
    prev = data.prev_bands
    migration = m.migration(prev, data.scores[data.scores["as_of"] == last], config)
    thresholds = m.thresholds(labelled, config) if len(labelled) else {"alerts": [], "suggested": None}
    metrics = {
        "schema_version": SCHEMA_VERSION,
        "month": month,
        "first_day": first.isoformat(),
        "last_day": last.isoformat(),
        "report_date": report_date.isoformat(),
        "config_version": config.version,
        "settings": {
            "outcome_window_days": cal.outcome_window_days,
            "signal_lookback_days": cal.signal_lookback_days,
            "min_closed_won": cal.min_closed_won,
            "min_signal_accounts": cal.min_signal_accounts,
            "bootstrap_samples": cal.bootstrap_samples,
            "seed": cal.seed,
            "holdout_share": cal.holdout_share,
            "regularisation_c": cal.regularisation_c,
        },
        "reliable": reliable,
        "reliability_note": note,
        "outcomes": {
            "won": data.won_outcomes,
            "created": data.created_outcomes,
            "labelled_account_days": len(labelled),
            "labelled_accounts": int(labelled["account_id"].nunique()),
            "positive_account_days": int(labelled["won"].sum()),
            "open_window": open_windows(data.rows),
        },
        "bands": {
            "end_of_month": end_bands,
            "previous_day": data.prev_day.isoformat(),
            "previous": {b: int(n) for b, n in prev["band"].value_counts().items()} if prev is not None else None,
            "migration": migration,
        },
        "conversion_by_band": m.conversion_by_band(labelled, config),
        "customers": churn_by_health(data.customers),
        "band_thresholds": band_thresholds(
            data.scores.loc[
                (data.scores["as_of"] == last) & (data.scores["lifecycle"] != "customer"), "score"
            ].to_numpy(dtype=float),
            labelled,
            config,
        ),
        "signals": m.signal_lift(labelled, data.counts, weights, codes, cal.min_signal_accounts),
        "auc": m.score_auc(labelled, weights, codes)
        if reliable
        else {"value": None, "ci_low": None, "ci_high": None, "curve": None},
        "thresholds": [{**t, "suggested": False} for t in thresholds["alerts"]],
        "suggested_threshold": thresholds["suggested"],
    }
    if reliable:
        suggestion = suggest(lake, config, config_path, data, metrics["signals"])
    else:
        _withheld(metrics)
        suggestion = Suggestion(
            False, note="no suggestion: the figures are not reliable this month (too few closed-won outcomes)"
        )
    metrics["suggested_points"] = {
        "available": suggestion.available,
        "note": suggestion.note,
        "signals": suggestion.signals,
        "changes": suggestion.changes,
        "train_accounts": suggestion.train_accounts,
        "holdout_accounts": suggestion.holdout_accounts,
        "backtest": suggestion.backtest,
        "recommended": suggestion.recommended,
        "verdict": suggestion.verdict,
        "stability_samples": STABILITY_SAMPLES,
        "stable_share": STABLE_SHARE,
    }
    labels = signal_labels(config)
    for entry in metrics["signals"] + metrics["suggested_points"]["signals"]:
        entry["label"] = labels.get(entry["signal"], entry["signal"])
    metrics["data_quality"] = data_quality(lake, warehouse_url, first, last, task_runs)
    metrics["warnings"] = report_warnings(metrics, config)
    return metrics, data, suggestion


def _suggested_yaml(metrics: dict, suggestion: Suggestion) -> str:
    if suggestion.available:
        bt = suggestion.backtest
        verdict = f"held-out ROC AUC: current {_fmt(bt['current']['auc'])}, suggested {_fmt(bt['suggested']['auc'])}"
        return (
            f"# Suggested scoring config from the calibration report of {metrics['month']} ({verdict}).\n"
            f"# For human review only: it is never applied automatically. Compare it first:\n"
            f"#   python -m include.scoring backtest --config suggested_config.yaml --start D --end D\n"
            + suggestion.yaml_text
        )
    return (
        f"# No suggested config for {metrics['month']}: {suggestion.note}.\n# The current config "
        f"({metrics['config_version']}) stays as it is.\n"
    )


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _write_folder(folder: str, files: dict[str, bytes]) -> dict[str, str]:
    fs, target = fsspec.core.url_to_fs(folder)
    parent = posixpath.dirname(target)
    tmp = posixpath.join(parent, f"_tmp_{posixpath.basename(target)}_{uuid.uuid4().hex[:12]}")
    fs.makedirs(tmp, exist_ok=True)
    try:
        for name, content in files.items():
            with fs.open(posixpath.join(tmp, name), "wb") as fh:
                fh.write(content)
        old = None
        if fs.exists(target):
            old = posixpath.join(parent, f"_old_{posixpath.basename(target)}_{uuid.uuid4().hex[:12]}")
            fs.mv(target, old, recursive=True)
        fs.mv(tmp, target, recursive=True)
        if old:
            fs.rm(old, recursive=True)
    except BaseException:
        if fs.exists(tmp):
            fs.rm(tmp, recursive=True)
        raise
    return {name: posixpath.join(folder, name) for name in files}


def build_report(
    lake: Lake,
    config: ScoringConfig,
    warehouse_url: str,
    month: str,
    *,
    config_path: str | None = None,
    task_runs: dict | None = None,
    out_root: str | None = None,
) -> ReportResult:
    """Compute the report of `month` and write its folder (see the module docstring)."""
    from include.scoring.report.charts import build_charts
    from include.scoring.report.pdf import render_pdf
    from include.scoring.report.render import render_html

    metrics, data, suggestion = compute(
        lake, config, warehouse_url, month, config_path=config_path, task_runs=task_runs
    )
    folder = report_folder(lake, config, month, out_root)
    earlier = previous_reports(folder, month, TREND_MONTHS - 1)
    metrics["changes_since_last_month"] = changes_since(metrics, earlier[-1] if earlier else None)
    metrics["trend"] = [trend_point(r) for r in earlier + [metrics]]
    charts = build_charts(metrics, data.labelled)
    html = render_html(metrics, charts, suggestion.diff)
    pdf = render_pdf(metrics, charts, suggestion.diff)
    curve = metrics["auc"].pop("curve", None)  # the chart has it; metrics.json keeps the numbers only
    payload = json.dumps(metrics, indent=2, sort_keys=False, default=str).encode("utf-8")
    metrics["auc"]["curve"] = curve
    files = {
        "report.html": html.encode("utf-8"),
        "report.pdf": pdf,
        "metrics.json": payload,
        "suggested_config.yaml": _suggested_yaml(metrics, suggestion).encode("utf-8"),
        "suggested_config.diff": (suggestion.diff or "").encode("utf-8"),
    }
    written = _write_folder(folder, files)
    result = ReportResult(month, folder, metrics, html, pdf, written)
    log.info(result.line())
    return result


@dataclass
class EmailResult:
    month: str
    recipients: int
    sent: bool
    note: str = ""

    def line(self) -> str:
        return f"report email {self.month}  " + (
            f"sent to {self.recipients} recipient(s)" + (f" ({self.note})" if self.note else "")
            if self.sent
            else f"not sent: {self.note}"
        )


def email_report(result: ReportResult, config: ScoringConfig, smtp) -> EmailResult:
    """The HTML summary in the body and the PDF attached, to calibration.recipients; through the
    SMTP server `smtp`, or into the outbox folder when it is None."""
    from include.scoring.core.mailer import send_email, transport_or_outbox
    from include.scoring.report.render import render_email

    recipients = list(config.calibration.recipients)
    if not recipients:
        return EmailResult(
            result.month, 0, False, "calibration.recipients is empty in the config; the report is in " + result.folder
        )
    smtp = transport_or_outbox(smtp)
    subject, text, html = render_email(result.metrics)
    try:
        where = send_email(
            smtp,
            recipients,
            subject,
            text,
            html,
            [(f"engagement-calibration-{result.month}.pdf", "application/pdf", result.pdf)],
        )
    except OSError as exc:  # smtplib errors are OSErrors: connection refused, auth, refused recipients
        raise PipelineError(
            f"the {result.month} report email to {len(recipients)} recipient(s) via {smtp.describe()} failed: {exc}. "
            f"The report is in {result.folder}; "
            "clear the email task to retry once the server answers."
        ) from None
    return EmailResult(result.month, len(recipients), True, f"delivered to {where}")


def load_report(folder: str, month: str) -> ReportResult:
    """A written report back from its folder (what the email needs: metrics and the PDF)."""
    fs, base = fsspec.core.url_to_fs(folder)
    try:
        with fs.open(posixpath.join(base, "metrics.json"), "r") as fh:
            metrics = json.load(fh)
        with fs.open(posixpath.join(base, "report.pdf"), "rb") as fh:
            pdf = fh.read()
    except (OSError, ValueError) as exc:
        raise PipelineError(
            f"the {month} report in {folder} is missing or unreadable ({exc}); build it again (python -m "
            f"include.scoring report --month {month})."
        ) from None
    return ReportResult(
        month, folder, metrics, html="", pdf=pdf, files={name: posixpath.join(folder, name) for name in FILES}
    )
