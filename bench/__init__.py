"""Benchmarks: each ``bench_*.py`` module has a ``main()`` that prints a table of medians and
speed-up ratios against the plain way, measured in the same run. Run with ``python -m bench``."""
