"""A process's peak resident memory, as the benchmarks record it and every Airflow task logs it."""

from __future__ import annotations


def peak_memory_mb() -> int | None:
    """This process's peak resident memory in MB: Linux's VmHWM, which starts fresh with the
    program (ru_maxrss carries the parent's across exec); None where /proc is not there."""
    try:
        with open("/proc/self/status") as fh:
            kb = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
    except (OSError, StopIteration, ValueError):
        return None
    return round(kb / 1024)
