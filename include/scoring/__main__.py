"""`python -m include.scoring`: see include/scoring/cli/main.py."""

import sys

from include.scoring.cli.main import main

sys.exit(main())
