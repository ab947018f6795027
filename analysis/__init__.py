"""SEMweb analysis engine: micrograph in, particle measurements and statistics out.

Pure Python (numpy, scikit-image, scipy, ultralytics); it never imports Django, Celery or
anything of the web platform, so it runs alone (`python -m analysis ...`) and in workers.
The one entry point for callers is :func:`analysis.pipeline.analyze`.
"""

ENGINE_VERSION = "0.1.0"

__all__ = ["ENGINE_VERSION"]
