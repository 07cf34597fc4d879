"""The lake the identity tests write their hand-made days into."""

from __future__ import annotations

import pytest

from include.scoring.lake.store import Lake


@pytest.fixture
def lake(tmp_path):
    return Lake(str(tmp_path))
