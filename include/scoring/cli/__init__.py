"""The command line: `python -m include.scoring <command>`."""
