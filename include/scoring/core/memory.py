"""A process's memory: Arrow's allocator, and the peak resident memory the benchmarks record and
every Airflow task logs."""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)


def use_jemalloc() -> str:
    """Arrow's allocations from jemalloc rather than pyarrow's default (mimalloc on Linux), unless
    ARROW_DEFAULT_MEMORY_POOL names a pool; returns the pool in use. A task is a fresh process that
    allocates gigabytes once: with mimalloc the first touch of each new buffer was the slowest part
    of a stage (the 5M-event day's score: 5.4-6.3 s against 3.6-3.9 s, peak 2.0-2.2 GB against
    1.8-1.9 GB; a resolve shard 11.0 s against 9.9 s; benchmarks/notes.md). Builds without jemalloc
    keep their default."""
    import pyarrow as pa

    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return pa.default_memory_pool().backend_name
    try:
        pa.set_memory_pool(pa.jemalloc_memory_pool())
    except NotImplementedError:
        log.debug("pyarrow was built without jemalloc: keeping %s", pa.default_memory_pool().backend_name)
    return pa.default_memory_pool().backend_name


def peak_memory_mb() -> int | None:
    """This process's peak resident memory in MB: Linux's VmHWM, which starts fresh with the
    program (ru_maxrss carries the parent's across exec); None where /proc is not there."""
    try:
        with open("/proc/self/status") as fh:
            kb = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
    except (OSError, StopIteration, ValueError):
        return None
    return round(kb / 1024)
