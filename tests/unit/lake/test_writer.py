"""The background writer of the score stage: in order, bounded, and nothing after a failure lands.

A state checkpoint is queued behind the days before it; if one of those days fails to write, the
checkpoint must not land (a later run would otherwise start from a state whose days are missing).
"""

from __future__ import annotations

import threading

import pytest

from include.scoring.lake import catalog
from include.scoring.lake.writer import BackgroundWriter


def test_writes_run_in_submission_order_and_drain_waits_for_all():
    done: list[int] = []
    with BackgroundWriter(depth=2) as writer:
        for n in range(20):
            writer.submit(done.append, n)
        writer.drain()
        assert done == list(range(20))


def test_at_most_depth_writes_wait():
    release = threading.Event()
    started: list[int] = []

    def slow(n: int) -> None:
        started.append(n)
        release.wait(5)

    writer = BackgroundWriter(depth=3)
    try:
        for n in range(3):
            writer.submit(slow, n)
        assert len(writer._pending) == 3
        blocked = threading.Thread(target=writer.submit, args=(slow, 3))
        blocked.start()
        blocked.join(0.3)
        assert blocked.is_alive(), "a fourth write must wait while three are queued"
        release.set()
        blocked.join(5)
        assert not blocked.is_alive()
    finally:
        release.set()
        writer.close()
    assert started == [0, 1, 2, 3]


def test_first_error_is_raised_and_later_writes_are_skipped():
    written: list[str] = []

    def fail() -> None:
        raise OSError("disk full")

    writer = BackgroundWriter(depth=10)
    writer.submit(written.append, "day 1")
    writer.submit(fail)
    writer.submit(written.append, "checkpoint")  # queued behind the failed day: must not land
    with pytest.raises(OSError, match="disk full"):
        writer.drain()
    writer.close(wait_only=True)  # what leaving the `with` block after the error does
    assert written == ["day 1"]


def test_an_error_elsewhere_wins_and_queued_writes_still_finish():
    written: list[int] = []
    with pytest.raises(ValueError, match="scoring failed"):
        with BackgroundWriter() as writer:
            writer.submit(written.append, 1)
            raise ValueError("scoring failed")
    assert written == [1]


def test_a_checkpoint_after_all_waits_for_the_other_lane():
    release = threading.Event()
    written: list[str] = []

    def slow_day() -> None:
        release.wait(5)
        written.append("contributions")

    with BackgroundWriter(lanes=2) as writer:
        writer.submit(slow_day, lane=1)
        writer.submit(written.append, "scores")
        writer.submit(written.append, "checkpoint", after_all=True)
        for _ in range(50):  # the other lane runs on while lane 1 is held
            if written:
                break
            threading.Event().wait(0.01)
        assert written == ["scores"], "lane 0 must not wait for lane 1, but the checkpoint must"
        release.set()
    assert written == ["scores", "contributions", "checkpoint"]


def test_a_checkpoint_after_a_failed_write_on_another_lane_is_skipped():
    written: list[str] = []

    def fail() -> None:
        raise OSError("disk full")

    writer = BackgroundWriter(lanes=2)
    writer.submit(fail, lane=1)
    writer.submit(written.append, "checkpoint", after_all=True)
    with pytest.raises(OSError, match="disk full"):
        writer.drain()
    writer.close(wait_only=True)
    assert written == []


def test_a_checkpoint_whose_companions_come_from_another_config_is_not_used(tmp_path):
    """The companions land beside the day's files and the marker after everything: if a write
    fails in between, a marker left from an earlier run must not vouch for newer companions."""
    from include.scoring.lake.store import Lake
    from include.scoring.score.state_io import state_meta
    from tests.unit.score.fixtures import START, event, score_range

    lake = Lake(str(tmp_path))
    score_range(lake, START, START, {START: [event(START, "pricing")]})
    meta = state_meta(lake, START)
    assert meta and meta["fingerprint"]
    ledger = lake.read(catalog.STATE_LEDGER, START)
    lake.write_part(catalog.STATE_LEDGER, START, 0, 1, ledger, metadata={**meta, "fingerprint": "another-config"})
    assert state_meta(lake, START) is None
    lake.write_part(catalog.STATE_LEDGER, START, 0, 1, ledger)  # written before companions were stamped: still usable
    assert state_meta(lake, START) == meta
