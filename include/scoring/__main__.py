"""`python -m include.scoring`: see include/scoring/cli/commands.py."""

import sys

from include.scoring.cli.commands import main

sys.exit(main())
