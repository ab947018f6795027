"""SEMweb web platform: labs, micrographs, analysis runs, review and sharing."""

from semweb.celery_app import app as celery_app

__all__ = ["celery_app"]
