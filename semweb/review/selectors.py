"""Reads for review: a run's timeline (audit log + comments)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from semweb.analyses.models import AnalysisRun
from semweb.audit.selectors import audit_for_object

# How audit verbs read on the timeline.
VERB_LABELS = {
    "run.create": "queued the analysis",
    "run.start": "worker started",
    "run.succeed": "analysis finished",
    "run.fail": "analysis failed",
    "run.retry": "worker gave the run back (retry)",
    "run.cancel": "cancelled the analysis",
    "particles.reject": "rejected particles",
    "particles.accept": "restored particles",
    "run.calibrate": "corrected the calibration",
    "run.submit": "submitted for review",
    "run.approve": "approved",
    "run.request_changes": "requested changes",
    "run.comment": "commented",
    "particles.add": "drew a particle",
    "particles.reshape": "redrew a particle",
    "particles.trim": "trimmed a particle",
    "particles.delete": "deleted a particle",
    "particles.split": "split a particle",
    "particles.merge": "merged particles",
    "particles.undo": "undid an outline edit",
    "particles.redo": "redid an outline edit",
}
_OUTLINE_EDITS = {v for v in VERB_LABELS if v.startswith("particles.")} - {
    "particles.reject",
    "particles.accept",
}


@dataclass
class TimelineEntry:
    at: datetime
    actor: str
    verb: str
    label: str
    detail: str
    comment: str = ""
    particle: int | None = None


def _num(value) -> str:
    """A measured number for people: 4 significant digits (2.2727272727273 → 2.273)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "—" if value is None else str(value)
    return f"{value:.4g}"


def _detail(verb: str, data: dict) -> str:
    if verb in {"particles.reject", "particles.accept"}:
        idx = data.get("indices") or []
        shown = ", ".join(f"#{i}" for i in idx[:8]) + (" …" if len(idx) > 8 else "")
        return f"{data.get('count', len(idx))} particle(s): {shown}"
    if verb == "run.calibrate":
        return (
            f"{_num(data.get('previous_pixel_size_nm'))} → {_num(data.get('pixel_size_nm'))} nm/px "
            f"({data.get('method')})"
        )
    if verb == "run.succeed":
        return (
            f"{data.get('particles')} particles, {_num(data.get('pixel_size_nm'))} nm/px "
            f"({data.get('calibration_source')})"
        )
    if verb in {"run.fail", "run.retry"}:
        return str(data.get("reason", ""))
    if verb in _OUTLINE_EDITS:
        parts = []
        for key, word in (("created", "new"), ("indices", "changed"), ("removed", "removed")):
            if data.get(key):
                parts.append(f"{word} " + ", ".join(f"#{i}" for i in data[key][:8]))
        if data.get("op"):  # undo/redo: which kind of step
            parts.append(f"{data['op']} (step {data.get('step')})")
        return "; ".join(parts)
    return ""


def run_timeline(run: AnalysisRun) -> list[TimelineEntry]:
    """Everything that happened to `run`, oldest first: the audit log carries the comments'
    text too, so one source gives the whole story (pinned particles included)."""
    comments = {c.pk: c.body for c in run.comments.all()}
    entries = []
    for event in audit_for_object(run):
        data = event.data or {}
        comment = comments.get(data.get("comment_id"), data.get("comment", ""))
        entries.append(
            TimelineEntry(
                at=event.created_at,
                actor=event.actor.get_username() if event.actor else "system",
                verb=event.verb,
                label=VERB_LABELS.get(event.verb, event.verb),
                detail=_detail(event.verb, data),
                comment=comment,
                particle=data.get("particle"),
            )
        )
    return entries
