"""Benchmarks, outside the apps (an app holds only what the product runs): `make bench` runs
``python -m benchmarks.engine`` (the engine alone) and ``python -m benchmarks.web`` (upload to
results with a real worker, and the review page in Chromium). Speed is reported as ratios to a
baseline measured in the same run."""
