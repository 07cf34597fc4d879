"""Run a real CLI command and kill its process at an injected point, like SIGKILL or the OOM killer.

    python -m tests.integration.crash_runner MODE N -- <include.scoring CLI arguments>

MODE says where the process dies, on the N-th occurrence (counted from 1):
  mid-file   the N-th Parquet file the lake writes: half of its bytes reach the file, then death
  swap       the N-th partition swap of Lake.write_partition: the previous version (if any) has
             been moved aside, the new one is complete but not yet renamed into place
  warehouse  the N-th upsert of the publish transaction, after the day's earlier writes
Death is os._exit(137): no exception handler, `finally` or atexit runs, nothing is flushed or
cleaned up. If the command finishes before the N-th occurrence, the runner exits with status 3,
so a test can tell that the crash it meant to inject did not happen. Only the injection point is
patched; the command is the project's own CLI, unchanged.
"""

from __future__ import annotations

import io
import os
import sys
import types

KILLED = 137
NOT_REACHED = 3


def _die() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(KILLED)


def install(mode: str, n: int) -> None:
    import include.scoring.lake.atomic as lake_module

    calls = {"n": 0}

    def due() -> bool:
        calls["n"] += 1
        return calls["n"] == n

    if mode == "mid-file":
        real_pq = lake_module.pq

        def write_table(table, where, **kwargs):
            if not due():
                return real_pq.write_table(table, where, **kwargs)
            buffer = io.BytesIO()
            real_pq.write_table(table, buffer, **kwargs)
            data = buffer.getvalue()
            where.write(data[: len(data) // 2])
            where.flush()
            _die()

        proxy = types.SimpleNamespace(
            **{name: getattr(real_pq, name) for name in dir(real_pq) if not name.startswith("__")}
        )
        proxy.write_table = write_table
        lake_module.pq = proxy  # only the lake's own writes go through the proxy
    elif mode == "swap":
        real_swap = lake_module.PartitionWrites._swap_into_place

        def swap(self, tmp, target, token):
            if not due():
                return real_swap(self, tmp, target, token)
            if self.fs.exists(target):
                parent, name = target.rsplit("/", 1)
                self.fs.mv(target, f"{parent}/{lake_module.OLD_PREFIX}{name}_{token}", recursive=True)
            _die()

        lake_module.PartitionWrites._swap_into_place = swap
    elif mode == "warehouse":
        import include.scoring.publish.stage as publish_module

        real_upsert = publish_module.upsert

        def upsert(*args, **kwargs):
            if due():
                _die()
            return real_upsert(*args, **kwargs)

        publish_module.upsert = upsert
    else:
        raise SystemExit(f"unknown crash mode {mode!r}")


def main(argv: list[str]) -> int:
    mode, n, sep, *cli_args = argv
    if sep != "--":
        raise SystemExit("usage: python -m tests.integration.crash_runner MODE N -- CLI ARGS...")
    install(mode, int(n))
    from include.scoring.cli.main import main as cli_main

    status = cli_main(cli_args)
    print(f"crash_runner: the command ended with status {status} before occurrence {n} of {mode}", file=sys.stderr)
    return NOT_REACHED


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
