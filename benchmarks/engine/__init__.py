"""Benchmarks of the analysis engine: ``python -m benchmarks.engine.<name>``."""
