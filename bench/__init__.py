"""Benchmarks: `python -m bench` (what `nox -s bench` runs)."""
