"""`python -m include.scoring`: see include/scoring/cli.py."""

import sys

from include.scoring.cli import main

sys.exit(main())
