"""Statistics for interleaved A/B performance runs: pure functions of numbers, no I/O."""
