"""Command line: `python -m include.scoring <command> ...` (SPEC section 7).

Runs any stage, or every stage day by day, without a scheduler; the DAG tasks call the same
functions. Exit status: 0 success, 1 data or pipeline failure (the message says what and where),
2 usage error. Every option can also come from the environment variable shown in `--help`.
"""

from __future__ import annotations

import logging
import sys
import traceback

from include.scoring.cli.parser import build_parser
from include.scoring.core.errors import PipelineError

log = logging.getLogger("include.scoring")


def _configure_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("great_expectations", "matplotlib", "urllib3", "fsspec"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    try:
        return args.func(args)
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception:  # noqa: BLE001 - a bug, not a user mistake: show everything
        traceback.print_exc()
        print("error: unexpected internal error (a bug); please report it with the traceback above", file=sys.stderr)
        return 1
