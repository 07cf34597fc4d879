"""Lake writes on background threads, so a replay computes day D+1 while day D is written.

Parquet encoding and compression run in Arrow's C++ without the GIL, so the threads use the other
core. Each lane is one thread and writes in submission order; the lanes run side by side (the
score stage writes a day's contributions, its largest file, on a lane of its own). At most
`depth` writes wait (memory stays bounded). A write submitted with `after_all` waits for every
write submitted before it, on every lane, and is skipped when one of them failed: a state
checkpoint queued behind its days never lands when one of them did not. Once a write fails, the
writes queued after it are skipped too. The first error is raised in the caller at its next
submit, drain or close: nothing is lost silently. `drain()` before reading back what was written.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait


class BackgroundWriter:
    def __init__(self, depth: int = 10, lanes: int = 1):
        self.depth = depth
        self._lanes = [ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"lake-writer-{n}") for n in range(lanes)]
        self._pending: deque[Future] = deque()
        self._failed: BaseException | None = None

    def submit(self, write: Callable, *args, lane: int = 0, after_all: bool = False, **kwargs) -> None:
        while len(self._pending) >= self.depth:
            self._pending.popleft().result()
        before = list(self._pending) if after_all else []
        self._pending.append(self._lanes[lane].submit(self._run, write, args, kwargs, before))

    def _run(self, write: Callable, args: tuple, kwargs: dict, before: list[Future]):
        wait(before)  # futures of earlier writes (only for `after_all`; on this lane they are done already)
        if self._failed is not None:
            raise RuntimeError(f"not written: another write failed ({self._failed})")
        try:
            return write(*args, **kwargs)
        except BaseException as exc:
            self._failed = exc
            raise

    def drain(self) -> None:
        """Wait for every submitted write; raise the first error."""
        while self._pending:
            self._pending.popleft().result()

    def __enter__(self) -> BackgroundWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(wait_only=exc_type is not None)  # after an error elsewhere, that error is the one raised

    def close(self, wait_only: bool = False) -> None:
        """Finish (or, after an error elsewhere, just wait for) the queued writes and stop the threads."""
        try:
            if wait_only:
                for future in self._pending:
                    future.exception()
                self._pending.clear()
            else:
                self.drain()
        finally:
            for lane in self._lanes:
                lane.shutdown(wait=True)
