"""The dashboard's light table declarations agree with the warehouse's own tables.

The dashboard declares the columns it reads itself (include/dashboard/schema.py) so the api-server
does not import pandas; this test is what keeps the two from drifting: a column renamed, dropped or
retyped in include/scoring/publish/warehouse.py fails here instead of on a page.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from include.dashboard import schema as dashboard
from include.scoring.publish import warehouse


def _kind(type_: sa.types.TypeEngine) -> type:
    """The generic SQL kind of a column type (String and Text are both text, etc.)."""
    for kind in (sa.Boolean, sa.DateTime, sa.Date, sa.Integer, sa.Float, sa.String):
        if isinstance(type_, kind):
            return kind
    raise AssertionError(f"unexpected column type {type_!r}")


@pytest.mark.parametrize("light", dashboard.TABLES, ids=lambda t: t.name)
def test_every_dashboard_column_exists_in_the_warehouse_with_the_same_kind(light):
    real = warehouse.metadata.tables[light.name]
    for column in light.columns:
        assert column.name in real.columns, (
            f"{light.name}.{column.name} is read by the dashboard but not defined in warehouse.py"
        )
        assert _kind(column.type) is _kind(real.columns[column.name].type), (
            f"{light.name}.{column.name}: {column.type!r} here, {real.columns[column.name].type!r} in the warehouse"
        )
        if isinstance(column.type, sa.DateTime):
            assert column.type.timezone == real.columns[column.name].type.timezone, (
                f"{light.name}.{column.name}: time zone awareness differs"
            )


def test_the_dashboard_reads_every_score_column_the_warehouse_keeps():
    """A new score column in the warehouse is offered to the dashboard too (or consciously left out here)."""
    missing = set(warehouse.account_scores.columns.keys()) - set(dashboard.account_scores.columns.keys())
    assert missing == set(), f"account_scores columns the dashboard does not declare: {sorted(missing)}"
