"""The report as PDF with reportlab (pure Python, no system libraries): the HTML's sections, tables
and charts. Values go into table cells as plain strings and into paragraphs escaped."""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.lib.utils import ImageReader
from reportlab.platypus import Image, Paragraph, Preformatted, SimpleDocTemplate, Spacer, Table, TableStyle

from include.scoring.report.render import SECTIONS, headline, interval, num, pct

WIDTH = 17 * cm
_STYLES = getSampleStyleSheet()
BODY = ParagraphStyle("body", parent=_STYLES["BodyText"], fontSize=9, leading=12)
SMALL = ParagraphStyle("small", parent=BODY, fontSize=8, leading=10, textColor=colors.HexColor("#5a6775"))
WARN = ParagraphStyle(
    "warn", parent=BODY, backColor=colors.HexColor("#fff4e5"), borderPadding=4, spaceBefore=4, spaceAfter=6
)
GOOD = ParagraphStyle("good", parent=WARN, backColor=colors.HexColor("#eaf5ec"))
ALARM = ParagraphStyle("alarm", parent=WARN, backColor=colors.HexColor("#fdecea"))
#: characters of a diff line that fit the page width in CODE; longer lines wrap with a "  " indent
DIFF_COLUMNS = 118


def wrap_lines(text: str, width: int = DIFF_COLUMNS) -> str:
    """Every line of `text` cut into pieces of at most `width` characters (continuations indented)."""
    out = []
    for line in text.splitlines():
        out.append(line[:width])
        rest = line[width:]
        while rest:
            out.append("  " + rest[: width - 2])
            rest = rest[width - 2 :]
    return "\n".join(out)


CODE = ParagraphStyle("code", parent=_STYLES["Code"], fontSize=6.5, leading=8)


def _p(text: str, style=BODY) -> Paragraph:
    return Paragraph(escape(str(text)), style)


def _table(rows: list[list], widths: list[float] | None = None) -> Table:
    cells = [[c if isinstance(c, Paragraph) else str(c) for c in row] for row in rows]
    table = Table(cells, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONTSIZE", (0, 0), (-1, -1), 7.5),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef2f6")),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#dde3ea")),
                ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    return table


def _image(png: bytes, max_width: float = WIDTH) -> Image:
    w, h = ImageReader(io.BytesIO(png)).getSize()
    scale = min(max_width / w, 1.0 * cm * 12 / h, 1.0)
    return Image(io.BytesIO(png), width=w * scale, height=h * scale)


def _unreliable(m: dict) -> list:
    return [_p(m["reliability_note"], WARN)]


def render_pdf(m: dict, charts: dict[str, bytes], diff: str) -> bytes:
    story: list = [
        Paragraph(escape(f"Engagement scoring calibration report: {m['month']}"), _STYLES["Title"]),
        _p(
            f"Scores of {m['first_day']} to {m['last_day']} (config {m['config_version']}), outcomes as known on "
            f"{m['report_date']}.",
            SMALL,
        ),
    ]
    h2 = _STYLES["Heading2"]
    story += [_p(f"{w['code']}: {w['message']}", ALARM) for w in m.get("warnings", [])]

    def section(key: str) -> None:
        story.extend([Spacer(1, 6), Paragraph(escape(SECTIONS[key]), h2)])

    section("summary")
    story.append(_p(m["reliability_note"], GOOD if m["reliable"] else WARN))
    story.append(_table([["Headline", "Value"]] + [[k, v] for k, v in headline(m)], [9 * cm, 8 * cm]))
    story.append(_p("What changed since last month:"))
    story += [_p(f"- {line}", SMALL) for line in m["changes_since_last_month"]]

    section("bands")
    story.append(_image(charts["band_distribution"]))
    story.append(
        _table(
            [["Band on " + m["last_day"], "Accounts", "of which customers", "Share"]]
            + [
                [b["band"], num(b["accounts"]), num(b["customers"]), pct(b["share"])]
                for b in m["bands"]["end_of_month"]
            ]
        )
    )
    mig = m["bands"]["migration"]
    if mig["available"]:
        story.append(
            _p(
                f"Band migration from {m['bands']['previous_day']} (rows) to {m['last_day']} (columns): "
                f"{mig['moved_up']} up, {mig['moved_down']} down, "
                f"{mig['stayed']} unchanged, {mig['new_accounts']} new."
            )
        )
        story.append(
            _table(
                [["from \\ to"] + mig["bands"]]
                + [[mig["bands"][i]] + [num(n) for n in row] for i, row in enumerate(mig["matrix"])]
            )
        )
    else:
        story.append(_p(f"No migration matrix: {m['bands']['previous_day']} is not published.", SMALL))

    section("conversion")
    if m["reliable"]:
        story.append(_image(charts["conversion_by_band"]))
        story.append(
            _table(
                [["Band", "Accounts", "Created opportunity", "95% interval", "Closed won", "95% interval"]]
                + [
                    [
                        c["band"],
                        num(c["accounts"]),
                        f"{pct(c['created']['rate'])} ({num(c['created']['accounts'])})",
                        interval(c["created"]["ci_low"], c["created"]["ci_high"], "pct"),
                        f"{pct(c['won']['rate'])} ({num(c['won']['accounts'])})",
                        interval(c["won"]["ci_low"], c["won"]["ci_high"], "pct"),
                    ]
                    for c in m["conversion_by_band"]
                ]
            )
        )
    else:
        story += _unreliable(m)
    ow = m["outcomes"]["open_window"]
    story.append(
        _p(
            f"{num(ow['accounts'])} account(s) ({num(ow['account_days'])} account-days) still have an open window on "
            f"{m['report_date']} and are not counted; "
            f"{num(ow['accounts_won_so_far'])} of them have already closed won.",
            SMALL,
        )
    )

    section("lift")
    if m["reliable"]:
        story.append(_image(charts["signal_lift"]))
    else:
        story += _unreliable(m)
    story.append(
        _table(
            [["#", "Signal", "Accounts with it", "Won rate with", "without", "Lift", "95% interval"]]
            + [
                [
                    s["rank"],
                    s["signal"].replace("_", " ") + (" (not judged)" if s["too_rare"] else ""),
                    num(s["accounts_with"]),
                    pct(s["won_rate_with"]),
                    pct(s["won_rate_without"]),
                    num(s["lift"]),
                    interval(s["ci_low"], s["ci_high"]),
                ]
                for s in m["signals"]
            ]
        )
    )

    section("auc")
    if m["reliable"] and m["auc"]["value"] is not None:
        auc = m["auc"]
        story.append(
            _p(
                f"ROC AUC {auc['value']:.3f} (95% interval {interval(auc['ci_low'], auc['ci_high'])}) over "
                f"{num(m['outcomes']['labelled_account_days'])} labelled account-days."
            )
        )
        story.append(_image(charts["roc_curve"], 9 * cm))
        story.append(_image(charts["score_distribution"]))
    else:
        story += _unreliable(m)

    section("thresholds")
    if m["reliable"]:
        rows = [
            [
                f"above {t['threshold']:g} ({t['recipient']})",
                num(t["flagged_account_days"]),
                pct(t["precision"]),
                pct(t["recall"]),
                num(t["f1"]),
            ]
            for t in m["thresholds"]
        ]
        if m["suggested_threshold"]:
            s = m["suggested_threshold"]
            rows.append(
                [
                    f"suggested: above {s['threshold']:g}",
                    num(s["flagged_account_days"]),
                    pct(s["precision"]),
                    pct(s["recall"]),
                    num(s["f1"]),
                ]
            )
        story.append(_table([["Alert", "Account-days above", "Precision", "Recall", "F1"]] + rows))
    else:
        story += _unreliable(m)

    section("customers")
    cu = m["customers"]
    story.append(
        _p(
            f"{num(cu['labelled_customers'])} customer(s) on labelled days, {num(cu['churned_accounts'])} churned "
            f"within the window. {cu['note']}"
        )
    )
    story.append(
        _table(
            [["Health on the day", "Customers", "Churned within the window", "95% interval"]]
            + [
                [
                    h["health"].replace("_", " "),
                    num(h["accounts"]),
                    f"{pct(h['rate'])} ({num(h['churned'])})",
                    interval(h["ci_low"], h["ci_high"], "pct"),
                ]
                for h in cu["states"]
            ]
        )
    )

    section("suggested")
    sp = m["suggested_points"]
    if sp["available"]:
        bt = sp["backtest"]
        gain = bt.get("gain") or {}
        story.append(
            _p(
                f"Fitted on {sp['train_accounts']} accounts, backtested on {sp['holdout_accounts']} held-out "
                f"accounts: ROC AUC current {num(bt['current']['auc'], 3)}, "
                f"suggested {num(bt['suggested']['auc'], 3)}, gain {num(gain.get('value'), 3)} (95% interval "
                f"{interval(gain.get('ci_low'), gain.get('ci_high'))}). Nothing is applied automatically."
            )
        )
        story.append(_p(sp.get("verdict", ""), GOOD if sp.get("recommended") else WARN))
        story.append(
            _table(
                [["Signal", "Current", "Fitted", "Suggested", "Stability", "Note"]]
                + [
                    [
                        s["signal"].replace("_", " "),
                        num(s["current_points"], 0),
                        num(s["fitted_points"], 1),
                        num(s["suggested_points"], 0) + (" *" if s["changed"] else ""),
                        pct(s.get("stability"), 0),
                        Paragraph(escape(s.get("note", "")), SMALL),
                    ]
                    for s in sp["signals"]
                ],
                [3.6 * cm, 1.4 * cm, 1.4 * cm, 1.6 * cm, 1.6 * cm, 7.4 * cm],
            )
        )
        story.append(
            _p(
                "* a changed value. Points per event; fitted: the regression's value on the tier scale (n/a: not "
                "fitted). Stability: the share of bootstrap refits that move the signal the same way. Signals seen "
                f"at fewer than {m['settings']['min_signal_accounts']} accounts keep their points; no signal moves "
                "against a lift interval that excludes 1.",
                SMALL,
            )
        )
        story.append(Preformatted(wrap_lines(diff or "(no change)"), CODE))
    else:
        story.append(_p(sp["note"] + ".", WARN if not m["reliable"] else BODY))

    section("quality")
    dq = m["data_quality"]
    story.append(
        _p(
            f"{dq['days_published']} published day(s); quality gate held on "
            f"{', '.join(dq['gate_held_days']) or 'no day'}."
        )
    )
    story.append(
        _table(
            [["Source", "Raw", "Quarantined", "Filtered", "Unresolved", "Scored", "Zero-point"]]
            + [
                [
                    s["source"],
                    num(s["raw"]),
                    f"{num(s['quarantined'])} ({pct(s['quarantined_share'])})",
                    num(s["filtered"]),
                    f"{num(s['unresolved'])} ({pct(s['unresolved_share'])})",
                    num(s["scored"]),
                    num(s["zero_point"]),
                ]
                for s in dq["per_source"]
            ]
        )
    )
    reasons = [
        [kind, r["source"], r["reason"], num(r["events"])]
        for kind in ("quarantined", "filtered", "unresolved")
        for r in dq["reasons"][kind]
    ]
    story.append(_table([["Outcome", "Source", "Reason", "Events"]] + reasons))
    story.append(
        _table(
            [["Identity rule", "Firings", "Identifiers"]]
            + [[r["rule"], num(r["firings"]), num(r["identifiers"])] for r in dq["identity_rules"]]
        )
    )
    tr = dq["task_runs"]
    story.append(
        _p(
            "Failed and retried task runs: "
            + (
                f"{tr['task_runs']} task run(s) of {tr['source']}; {len(tr['failed'])} failed, {len(tr['retried'])} "
                "needed more than one try."
                if tr["available"]
                else tr["note"] + "."
            )
        )
    )
    listed = {r["key"]: r for r in tr["failed"] + tr["retried"]}.values() if tr["available"] else []
    if listed:
        story.append(
            _table(
                [["Day", "DAG", "Task", "Final state", "Tries"]]
                + [[r["day"], r["dag_id"], r["task_id"], r["state"], r["try_number"]] for r in listed]
            )
        )

    section("method")
    story.append(
        _p(
            f"Rows are prospects as scored on each day D of {m['month']}; an outcome counts when it happened in (D, "
            f"D + {m['settings']['outcome_window_days']} days] "
            f"and is known on {m['report_date']}; open windows are reported apart. Signals count when seen in the "
            f"{m['settings']['signal_lookback_days']} days up to D. "
            f"Figures are withheld below {m['settings']['min_closed_won']} closed-won outcomes. Schema of "
            "metrics.json: docs/metrics.md.",
            SMALL,
        )
    )

    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=2 * cm,
        rightMargin=2 * cm,
        topMargin=1.6 * cm,
        bottomMargin=1.6 * cm,
        title=f"Engagement scoring calibration report {m['month']}",
        author="engagement scoring",
        invariant=1,
    )
    doc.build(story)
    return buf.getvalue()
