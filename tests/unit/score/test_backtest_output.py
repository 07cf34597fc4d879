"""What `backtest` prints: one aligned table, bands in the config's order, readable labels (not
pandas' band_a/band_b), and a warning when both configs carry the same version."""

from __future__ import annotations

from datetime import date

import pandas as pd

from include.scoring.score.backtest import BacktestSide, backtest_lines

BANDS = ["cold", "warm", "hot", "very_hot"]
END = date(2026, 11, 20)


def side(version: str, counts: list[int], auc: float | None = 0.71) -> BacktestSide:
    total = sum(counts)
    return BacktestSide(
        version, dict(zip(BANDS, counts, strict=True)), {b: c / total for b, c in zip(BANDS, counts, strict=True)},
        auc, 12_345, 67,
    )  # fmt: skip


def lines(a: BacktestSide, b: BacktestSide, moved: pd.DataFrame) -> list[str]:
    return backtest_lines(a, b, moved, 300, BANDS, date(2026, 9, 1), END, date(2026, 6, 1), 90)


def test_one_aligned_table_in_band_order_and_a_readable_matrix():
    moved = pd.DataFrame({"account_id": ["a", "b", "c"], "band_a": ["very_hot", "hot", "warm"],
                          "band_b": ["hot", "very_hot", "cold"]})  # fmt: skip
    out = lines(side("2026.11", [150, 80, 45, 25]), side("2026.12-candidate", [140, 85, 45, 30], None), moved)
    table = out[1:13]
    assert table[0].split() == ["current", "candidate"]
    # every value column ends at the same place: the table is aligned
    assert len({len(row) for row in table}) == 1, table
    labels = [row[2:].split("  ")[0].strip() for row in table[2:10]]
    assert labels == [f"accounts {b} on {END}" for b in ("cold", "warm", "hot", "very hot")] + [
        f"prospects {b} share" for b in ("cold", "warm", "hot", "very hot")
    ]
    assert table[5].split()[-2:] == ["25", "30"] and "n/a (one class only)" in table[10]
    text = "\n".join(out)
    assert "band_a" not in text and "band_b" not in text and "warning" not in text
    matrix = out[out.index(next(line for line in out if "changing band" in line)) + 1 :]
    assert matrix[0].split()[:3] == ["current", "\\", "candidate"]
    assert [row.split()[0] for row in matrix[1:]] == ["cold", "warm", "hot", "very"]  # band order, not a-z
    assert matrix[4].split()[-4:] == [".", ".", "1", "."]  # very hot -> hot: 1


def test_equal_versions_are_warned_about():
    out = lines(side("2026.11", [150, 80, 45, 25]), side("2026.11", [140, 85, 45, 30]), pd.DataFrame())
    assert out[1].startswith("  warning: both configs have version '2026.11'")
