"""The property tests are deterministic unless asked to explore (`make fuzz`), so a clean clone's
`make test` never fails at random on an unchanged tree (issue 22, item 13)."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

from scripts.fuzz import report


@pytest.mark.skipif(os.environ.get("HYPOTHESIS_PROFILE", "ci") != "ci", reason="running under another profile")
def test_the_default_profile_draws_the_same_examples_every_run():
    current = settings.default
    assert current.derandomize is True
    assert current.database is None  # no examples carried over from an earlier run on this machine
    assert current.print_blob is True


def test_fuzz_profile_draws_at_random():
    fuzz = settings.get_profile("fuzz")
    assert fuzz.derandomize is False


def test_fuzz_report_names_what_failed_and_how_to_replay_it():
    lines: list[str] = []
    rounds = [
        {"seed": 1, "seconds": 3.0, "returncode": 0, "stopped": False, "examples": 40, "failed": [], "falsifying": []},
        {
            "seed": 2,
            "seconds": 4.0,
            "returncode": 1,
            "stopped": False,
            "examples": 12,
            "failed": ["tests/unit/x.py::test_p"],
            "falsifying": ["Falsifying example: test_p(v=1)"],
        },
    ]
    assert report(rounds, echo=lines.append) == 1
    text = "\n".join(lines)
    assert "2 round(s), 52 examples" in text
    assert "FOUND with seed 2: tests/unit/x.py::test_p" in text
    assert "Falsifying example: test_p(v=1)" in text
    assert "--hypothesis-seed=2 tests/unit/x.py" in text
    assert report(rounds[:1], echo=lines.append) == 0
    assert lines[-1].startswith("nothing found")
