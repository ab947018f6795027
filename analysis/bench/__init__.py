"""Benchmarks of the analysis engine: ``python -m analysis.bench.<name>``."""
