"""Geometry for the inline SVG charts: numbers only, the templates draw them (autoescaped).

Days are placed by date, not by row, so a day without a history row shows as a gap in time
rather than silently joining its neighbours closer together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta


@dataclass(frozen=True)
class Sparkline:
    width: int
    height: int
    points: str
    last: tuple[float, float]
    first_score: float
    last_score: float
    days: int


@dataclass(frozen=True)
class Tick:
    at: float
    label: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    top: int
    plot_width: int
    plot_height: int
    points: str
    area: str
    last: tuple[float, float]
    y_ticks: list[Tick] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    bands: list[Tick] = field(default_factory=list)
    scale: str = "linear"


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def sparkline(
    series: list[tuple[date, float]], end: date, days: int, width: int = 96, height: int = 24, pad: float = 2.0
) -> Sparkline | None:
    """A polyline of the scores of the `days` days ending on `end`: x by date, y from the window's
    lowest to its highest score (the shape of the trend; a flat window is a flat middle line)."""
    if not series:
        return None
    start = end - timedelta(days=days - 1)
    low, high = min(score for _, score in series), max(score for _, score in series)
    span = max(days - 1, 1)

    def y_of(score: float) -> float:
        if high - low < 0.5:
            return height / 2
        return height - pad - (height - 2 * pad) * (score - low) / (high - low)

    coords = [(pad + (width - 2 * pad) * (day - start).days / span, y_of(score)) for day, score in series]
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    return Sparkline(width, height, points, coords[-1], series[0][1], series[-1][1], len(series))


def _nice_step(top: float) -> float:
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000):
        if top / step <= 5:
            return float(step)
    return float(10 ** len(str(int(top))))


def history_chart(
    series: list[tuple[date, float]], bands: list[tuple[str, float]] | None = None, width: int = 720, height: int = 220
) -> Chart | None:
    """Score over time with y gridlines, first/middle/last dates and the band boundaries in range.

    When the scores run far above the boundaries (a hot account at 300 with boundaries at 10, 25
    and 50), a linear axis would squash the boundaries into the bottom few pixels: the axis turns
    square-root, which keeps them apart and still orders every score (the chart says so).
    """
    if not series:
        return None
    left, top_pad, right, bottom = 44, 12, 12, 28
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    first, last = series[0][0], series[-1][0]
    span = max((last - first).days, 1)
    highest = max(max(score for _, score in series), 1.0)
    bounds = [(name, limit) for name, limit in (bands or []) if limit is not None and 0 < limit]
    top_edge = max((limit for _, limit in bounds), default=0.0)
    ceiling = max([highest, *(limit for _, limit in bounds if limit <= highest * 1.5)])
    step = _nice_step(ceiling)
    y_max = step * -(-ceiling // step)
    root = bool(top_edge) and highest > 2.5 * top_edge

    def x_of(day: date) -> float:
        return left + plot_w * (day - first).days / span

    def y_of(score: float) -> float:
        share = max(score, 0.0) / y_max
        return top_pad + plot_h - plot_h * (share**0.5 if root else share)

    coords = [(x_of(day), y_of(score)) for day, score in series]
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    baseline = top_pad + plot_h
    area = (
        f"M{coords[0][0]:.1f},{baseline:.1f} L"
        + " L".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        + f" L{coords[-1][0]:.1f},{baseline:.1f} Z"
    )
    values = [step * k for k in range(int(y_max // step) + 1)]
    if root:  # the boundaries and 0 at the bottom, then the nice steps where there is room
        values = sorted({0.0, *(limit for _, limit in bounds), *(v for v in values if v >= 2 * top_edge)})
    y_ticks: list[Tick] = []
    for value in values:
        if not y_ticks or y_ticks[-1].at - y_of(value) >= 12:
            y_ticks.append(Tick(y_of(value), _fmt(value)))
    middle = first + timedelta(days=span // 2)
    x_ticks = [Tick(x_of(first), first.isoformat())]
    if span >= 14:
        x_ticks.append(Tick(x_of(middle), middle.isoformat()))
    if last != first:
        x_ticks.append(Tick(x_of(last), last.isoformat()))
    band_ticks: list[Tick] = []
    for name, limit in bounds:  # band boundaries, none closer than a label's height
        if limit <= y_max and (not band_ticks or band_ticks[-1].at - y_of(limit) >= 12):
            band_ticks.append(Tick(y_of(limit), f"{name.replace('_', ' ')} up to {_fmt(limit)}"))
    scale = "square-root" if root else "linear"
    return Chart(
        width, height, left, top_pad, plot_w, plot_h, points, area, coords[-1], y_ticks, x_ticks, band_ticks, scale
    )
