"""Report charts with matplotlib (Agg backend, no display): PNG bytes, embedded by HTML and PDF."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend is chosen first
import numpy as np  # noqa: E402
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator  # noqa: E402

BLUE, ORANGE, GREY = "#2f6db5", "#d9822b", "#8a96a3"
plt.rcParams.update(
    {"font.size": 9, "axes.spines.top": False, "axes.spines.right": False, "svg.hashsalt": "engagement"}
)


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def band_distribution(bands: list[dict], previous: dict[str, int] | None) -> bytes:
    fig, ax = plt.subplots(figsize=(6.4, 2.8))
    names = [b["band"].replace("_", " ") for b in bands]
    x = np.arange(len(bands))
    width = 0.38 if previous else 0.6
    if previous:
        ax.bar(
            x - width / 2, [previous.get(b["band"], 0) for b in bands], width, color=GREY, label="end of previous month"
        )
    ax.bar(
        x + (width / 2 if previous else 0), [b["accounts"] for b in bands], width, color=BLUE, label="end of this month"
    )
    ax.set_xticks(x, names)
    ax.set_ylabel("accounts")
    ax.legend(frameon=False)
    ax.set_title("Accounts per band")
    return _png(fig)


def conversion_by_band(conversion: list[dict]) -> bytes:
    fig, ax = plt.subplots(figsize=(6.4, 2.8))
    x = np.arange(len(conversion))
    for offset, kind, color, label in (
        (-0.12, "created", BLUE, "opportunity created"),
        (0.12, "won", ORANGE, "closed won"),
    ):
        rate = np.array([c[kind]["rate"] if c[kind]["rate"] is not None else np.nan for c in conversion]) * 100
        lo = np.array([c[kind]["ci_low"] if c[kind]["ci_low"] is not None else np.nan for c in conversion]) * 100
        hi = np.array([c[kind]["ci_high"] if c[kind]["ci_high"] is not None else np.nan for c in conversion]) * 100
        ax.errorbar(x + offset, rate, yerr=[rate - lo, hi - rate], fmt="o", color=color, capsize=4, label=label)
    ax.set_xticks(x, [c["band"].replace("_", " ") for c in conversion])
    ax.set_ylim(bottom=0)
    ax.set_ylabel("accounts converting (%)")
    ax.set_title("Accounts seen in the band that converted within the window (95% Wilson intervals)", fontsize=9)
    ax.legend(frameon=False)
    return _png(fig)


def signal_lift(lift: list[dict]) -> bytes:
    shown = [e for e in lift if not e["too_rare"] and e["lift"] is not None and e["lift"] > 0][::-1]
    fig, ax = plt.subplots(figsize=(6.4, 0.24 * max(len(shown), 4) + 0.9))
    y = np.arange(len(shown))
    value = np.array([e["lift"] for e in shown])
    lo = np.array([e["ci_low"] if e["ci_low"] is not None else e["lift"] for e in shown])
    hi = np.array([e["ci_high"] if e["ci_high"] is not None else e["lift"] for e in shown])
    lo = np.clip(lo, 0.05, None)
    ax.barh(y, value, color=[BLUE if v >= 1 else GREY for v in value], height=0.6)
    ax.errorbar(
        value,
        y,
        xerr=[np.clip(value - lo, 0, None), np.clip(hi - value, 0, None)],
        fmt="none",
        ecolor="#1d2733",
        capsize=2,
        lw=0.8,
    )
    ax.axvline(1, color="#1d2733", lw=0.8, ls="--")
    ax.set_xscale("log")
    _lift_axis(ax, np.concatenate([lo, hi, value, [1.0]]))
    ax.set_yticks(y, [e.get("label", e["signal"]) for e in shown])
    ax.set_xlabel("lift for closed won (log scale; 1 = no difference)")
    ax.set_title("Signal lift, with 95% account-bootstrap intervals")
    return _png(fig)


#: the lift axis's ticks: a few round numbers, each labelled once ("0.5×", "2×")
LIFT_TICKS = (0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500)


def _lift_axis(ax, values: np.ndarray) -> None:
    """Readable log axis: only round ticks inside the data's range, no minor labels."""
    finite = values[np.isfinite(values) & (values > 0)]
    low, high = (finite.min(), finite.max()) if len(finite) else (0.5, 2.0)
    low, high = min(low, 0.8), max(high, 1.25)
    ax.set_xlim(low / 1.15, high * 1.15)
    ticks = [t for t in LIFT_TICKS if low / 1.15 <= t <= high * 1.15]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}×"))


def roc(curve: dict, auc: dict) -> bytes:
    fig, ax = plt.subplots(figsize=(3.6, 3.4))
    ax.plot(curve["fpr"], curve["tpr"], color=BLUE, lw=1.6, label=f"score (AUC {auc['value']:.2f})")
    ax.plot([0, 1], [0, 1], color=GREY, ls="--", lw=0.8, label="chance (AUC 0.50)")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("ROC curve, closed won")
    ax.legend(frameon=False, loc="lower right")
    return _png(fig)


def score_distribution(labelled) -> bytes:
    fig, ax = plt.subplots(figsize=(6.4, 2.8))
    scores = labelled["score"].to_numpy(dtype=float)
    bins = np.linspace(0, max(float(np.percentile(scores, 99.5)) if len(scores) else 1.0, 1.0), 30)
    won = labelled["won"].to_numpy() == 1
    ax.hist(
        np.clip(scores[~won], None, bins[-1]),
        bins=bins,
        density=True,
        alpha=0.6,
        color=GREY,
        label="not won within the window",
    )
    ax.hist(
        np.clip(scores[won], None, bins[-1]),
        bins=bins,
        density=True,
        alpha=0.7,
        color=ORANGE,
        label="closed won within the window",
    )
    ax.set_xlabel("score on the score date")
    ax.set_ylabel("share of account-days")
    ax.set_title("Score distribution, won vs not won")
    ax.legend(frameon=False)
    return _png(fig)


def gains(labelled) -> bytes:
    """Cumulative gains: the share of the won account-days found in the top x% of account-days by score."""
    fig, ax = plt.subplots(figsize=(6.4, 2.8))
    order = np.argsort(-labelled["score"].to_numpy(dtype=float), kind="stable")
    won = labelled["won"].to_numpy()[order]
    reached = np.concatenate([[0.0], np.cumsum(won) / max(won.sum(), 1)]) * 100
    share = np.linspace(0, 100, len(reached))
    ax.plot(share, reached, color=BLUE, lw=1.6, label="by score")
    ax.plot([0, 100], [0, 100], color=GREY, ls="--", lw=0.8, label="random order")
    for top in (10, 20):
        hit = reached[int(round(top / 100 * (len(reached) - 1)))]
        ax.annotate(f"top {top}%: {hit:.0f}% of wins", (top, hit), textcoords="offset points", xytext=(6, -12))
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 100)
    ax.set_xlabel("account-days, highest score first (%)")
    ax.set_ylabel("won account-days found (%)")
    ax.set_title("Cumulative gains")
    ax.legend(frameon=False, loc="lower right")
    return _png(fig)


def trend(points: list[dict]) -> bytes:
    """AUC and closed-won rate per band, month by month (the reports in the report folder)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(7.2, 2.8))
    months = [p["month"] for p in points]
    x = np.arange(len(points))
    auc = np.array([p["auc"] if p["auc"] is not None else np.nan for p in points])
    left.plot(x, auc, "o-", color=BLUE)
    left.axhline(0.5, color=GREY, ls="--", lw=0.8)
    left.set_ylim(0.4, 1.0)
    left.set_xticks(x, months, rotation=45, fontsize=7)
    left.set_title("ROC AUC")
    bands = list(points[-1]["won_rate"])
    for band, color in zip(bands, [GREY, "#7fa7d6", BLUE, ORANGE]):
        rate = np.array([p["won_rate"].get(band) if p["won_rate"].get(band) is not None else np.nan for p in points])
        right.plot(x, rate * 100, "o-", color=color, label=band.replace("_", " "))
    right.set_ylim(bottom=0)
    right.set_xticks(x, months, rotation=45, fontsize=7)
    right.set_title("Closed won by band (%)")
    right.legend(frameon=False, fontsize=7)
    return _png(fig)


def build_charts(metrics: dict, labelled) -> dict[str, bytes]:
    """Every chart the report shows; the outcome charts only when the figures are reliable."""
    prev = metrics["bands"]["previous"]
    charts = {"band_distribution": band_distribution(metrics["bands"]["end_of_month"], prev)}
    if metrics["reliable"]:
        charts["conversion_by_band"] = conversion_by_band(metrics["conversion_by_band"])
        charts["signal_lift"] = signal_lift(metrics["signals"])
        if metrics["auc"]["curve"]:
            charts["roc_curve"] = roc(metrics["auc"]["curve"], metrics["auc"])
        charts["score_distribution"] = score_distribution(labelled)
        charts["gains"] = gains(labelled)
    if sum(p["auc"] is not None for p in metrics.get("trend", [])) >= 2:
        charts["trend"] = trend(metrics["trend"])
    return charts
