"""Runtime benchmarks (``make bench`` / ``python -m bench.run``): numbers and ratios, never pass/fail."""
