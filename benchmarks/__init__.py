"""Performance harness: `make bench` (see benchmarks/README.md). Results go to RESULTS.md."""
