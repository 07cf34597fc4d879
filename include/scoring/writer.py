"""Lake writes on one background thread, so a replay computes day D+1 while day D is written.

Parquet encoding and compression run in Arrow's C++ without the GIL, so the thread uses a second
core. Writes run in submission order (one thread), at most `depth` wait (memory stays bounded),
and once one fails the writes queued after it are skipped: a state checkpoint queued behind its
days never lands when one of them did not. The first error is raised in the caller at its next
submit, drain or close: nothing is lost silently. `drain()` before reading back what was written.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor


class BackgroundWriter:
    def __init__(self, depth: int = 10):
        self.depth = depth
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lake-writer")
        self._pending: deque[Future] = deque()
        self._failed: BaseException | None = None

    def submit(self, write: Callable, *args, **kwargs) -> None:
        while len(self._pending) >= self.depth:
            self._pending.popleft().result()
        self._pending.append(self._pool.submit(self._run, write, args, kwargs))

    def _run(self, write: Callable, args: tuple, kwargs: dict):
        if self._failed is not None:
            raise RuntimeError(f"not written: an earlier write failed ({self._failed})")
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
        """Finish (or, after an error elsewhere, just wait for) the queued writes and stop the thread."""
        try:
            if wait_only:
                for future in self._pending:
                    future.exception()
                self._pending.clear()
            else:
                self.drain()
        finally:
            self._pool.shutdown(wait=True)
