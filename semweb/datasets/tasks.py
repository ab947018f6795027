"""Celery tasks of the datasets app: ids in, one service call."""

from __future__ import annotations

from celery import shared_task

from semweb.datasets.services import export_build


@shared_task(name="datasets.build_export", acks_late=True)
def build_export(export_id: int) -> str:
    export = export_build(export_id=export_id)
    return export.status if export is not None else "skipped"
