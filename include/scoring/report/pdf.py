"""The report as PDF with reportlab (pure Python, no system libraries): the HTML's sections, tables
and charts. Values go into table cells as plain strings and into paragraphs escaped."""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import cm
from reportlab.platypus import Paragraph, Preformatted, SimpleDocTemplate, Spacer

from include.scoring.report.pdf_kit import (
    ALARM,
    BODY,
    CELL,
    CODE,
    GOOD,
    SMALL,
    STYLES,
    WARN,
    image,
    para,
    table,
    wrap_lines,
)
from include.scoring.report.render import SECTIONS, headline, interval, num, pct


def _unreliable(m: dict) -> list:
    return [para(m["reliability_note"], WARN)]


def render_pdf(m: dict, charts: dict[str, bytes], diff: str) -> bytes:
    story: list = [
        Paragraph(escape(f"Engagement scoring calibration report: {m['month']}"), STYLES["Title"]),
        para(
            f"Scores of {m['first_day']} to {m['last_day']} (config {m['config_version']}), outcomes as known on "
            f"{m['report_date']}.",
            SMALL,
        ),
    ]
    h2 = STYLES["Heading2"]
    story += [para(f"{w['code']}: {w['message']}", ALARM) for w in m.get("warnings", [])]

    def section(key: str) -> None:
        story.extend([Spacer(1, 6), Paragraph(escape(SECTIONS[key]), h2)])

    section("summary")
    story.append(para(m["reliability_note"], GOOD if m["reliable"] else WARN))
    story.append(table([["Headline", "Value"]] + [[k, v] for k, v in headline(m)], [9 * cm, 8 * cm]))
    story.append(para("What changed since last month:"))
    story += [para(f"- {line}", SMALL) for line in m["changes_since_last_month"]]

    section("bands")
    story.append(image(charts["band_distribution"]))
    story.append(
        table(
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
            para(
                f"Band migration from {m['bands']['previous_day']} (rows) to {m['last_day']} (columns): "
                f"{mig['moved_up']} up, {mig['moved_down']} down, "
                f"{mig['stayed']} unchanged, {mig['new_accounts']} new."
            )
        )
        story.append(
            table(
                [["from \\ to"] + mig["bands"]]
                + [[mig["bands"][i]] + [num(n) for n in row] for i, row in enumerate(mig["matrix"])]
            )
        )
    else:
        story.append(para(f"No migration matrix: {m['bands']['previous_day']} is not published.", SMALL))

    section("conversion")
    if m["reliable"]:
        story.append(image(charts["conversion_by_band"]))
        story.append(
            table(
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
        para(
            f"{num(ow['accounts'])} account(s) ({num(ow['account_days'])} account-days) still have an open window on "
            f"{m['report_date']} and are not counted; "
            f"{num(ow['accounts_won_so_far'])} of them have already closed won.",
            SMALL,
        )
    )

    section("lift")
    if m["reliable"]:
        story.append(image(charts["signal_lift"]))
    else:
        story += _unreliable(m)
    story.append(
        table(
            [["#", "Signal", "Accounts with it", "Won rate with", "without", "Lift", "95% interval"]]
            + [
                [
                    s["rank"],
                    para(s.get("label", s["signal"]) + (" (not judged)" if s["too_rare"] else ""), CELL),
                    num(s["accounts_with"]),
                    pct(s["won_rate_with"]),
                    pct(s["won_rate_without"]),
                    num(s["lift"]),
                    interval(s["ci_low"], s["ci_high"]),
                ]
                for s in m["signals"]
            ],
            [0.8 * cm, 6.4 * cm, 2 * cm, 2 * cm, 1.8 * cm, 1.6 * cm, 2.4 * cm],
        )
    )

    section("auc")
    if m["reliable"] and m["auc"]["value"] is not None:
        auc = m["auc"]
        story.append(
            para(
                f"ROC AUC {auc['value']:.3f} (95% interval {interval(auc['ci_low'], auc['ci_high'])}) over "
                f"{num(m['outcomes']['labelled_account_days'])} labelled account-days."
            )
        )
        story.append(image(charts["roc_curve"], 9 * cm))
        story.append(image(charts["score_distribution"]))
        story.append(image(charts["gains"]))
    if "trend" in charts:
        story.append(image(charts["trend"]))
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
        story.append(table([["Alert", "Account-days above", "Precision", "Recall", "F1"]] + rows))
    else:
        story += _unreliable(m)

    bts = m["band_thresholds"]
    if bts["available"]:
        targets = ", ".join(f"{b.replace('_', ' ')} {pct(v, 0)}" for b, v in bts["targets"].items())
        story.append(para(f"Band edges for target shares ({targets} of the prospects on {m['last_day']}):"))
        story.append(
            table(
                [["Band", "Edge now", "Share now", "Won now", "Edge for target", "Share", "Won"]]
                + [
                    [
                        c["band"].replace("_", " "),
                        num(c["max_score"], 0),
                        pct(c["prospect_share"]),
                        pct(c["won_rate"]),
                        num(p["max_score"], 0),
                        pct(p["prospect_share"]),
                        pct(p["won_rate"]),
                    ]
                    for c, p in zip(bts["current"], bts["proposed"])
                ]
            )
        )
        if bts["changed"]:
            story.append(Preformatted(wrap_lines(bts["diff"]), CODE))

    section("customers")
    cu = m["customers"]
    story.append(
        para(
            f"{num(cu['labelled_customers'])} customer(s) on labelled days, {num(cu['churned_accounts'])} churned "
            f"within the window. {cu['note']}"
        )
    )
    story.append(
        table(
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
            para(
                f"Fitted on {sp['train_accounts']} accounts, backtested on {sp['holdout_accounts']} held-out "
                f"accounts: ROC AUC current {num(bt['current']['auc'], 3)}, "
                f"suggested {num(bt['suggested']['auc'], 3)}, gain {num(gain.get('value'), 3)} (95% interval "
                f"{interval(gain.get('ci_low'), gain.get('ci_high'))}). Nothing is applied automatically."
            )
        )
        story.append(para(sp.get("verdict", ""), GOOD if sp.get("recommended") else WARN))
        story.append(
            table(
                [["Signal", "Current", "Fitted", "Suggested", "Stability", "Note"]]
                + [
                    [
                        para(s.get("label", s["signal"]), CELL),
                        num(s["current_points"], 0),
                        num(s["fitted_points"], 1),
                        num(s["suggested_points"], 0) + (" *" if s["changed"] else ""),
                        pct(s.get("stability"), 0),
                        Paragraph(escape(s.get("note", "")), SMALL),
                    ]
                    for s in sp["signals"]
                ],
                [4.4 * cm, 1.3 * cm, 1.3 * cm, 1.6 * cm, 1.6 * cm, 6.8 * cm],
            )
        )
        story.append(
            para(
                "* a changed value. Points per event; fitted: the regression's value on the tier scale (n/a: not "
                "fitted). Stability: the share of bootstrap refits that move the signal the same way. Signals seen "
                f"at fewer than {m['settings']['min_signal_accounts']} accounts keep their points; no signal moves "
                "against a lift interval that excludes 1.",
                SMALL,
            )
        )
        story.append(Preformatted(wrap_lines(diff or "(no change)"), CODE))
    else:
        story.append(para(sp["note"] + ".", WARN if not m["reliable"] else BODY))

    section("quality")
    dq = m["data_quality"]
    story.append(
        para(
            f"{dq['days_published']} published day(s); quality gate held on "
            f"{', '.join(dq['gate_held_days']) or 'no day'}."
        )
    )
    story.append(
        table(
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
    story.append(table([["Outcome", "Source", "Reason", "Events"]] + reasons))
    story.append(
        table(
            [["Identity rule", "Firings", "Identifiers"]]
            + [[r["rule"], num(r["firings"]), num(r["identifiers"])] for r in dq["identity_rules"]]
        )
    )
    tr = dq["task_runs"]
    story.append(
        para(
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
            table(
                [["Day", "DAG", "Task", "Final state", "Tries"]]
                + [[r["day"], r["dag_id"], r["task_id"], r["state"], r["try_number"]] for r in listed]
            )
        )

    section("method")
    story.append(
        para(
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
