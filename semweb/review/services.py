"""Review transitions (unreviewed → in review → changes requested / approved) and comments.

Each transition is a conditional UPDATE on the run's `review_state`, so two reviewers (or a
reviewer racing an edit) cannot both win; each is audited and leaves a comment on the run.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from semweb.analyses.models import AnalysisRun, ReviewState, RunStatus
from semweb.analyses.services import TransitionError
from semweb.audit.services import audit_record
from semweb.core.params import COMMENT_MAX_CHARS, parse_text
from semweb.labs.permissions import (
    SUBMITTABLE_STATES,
    Access,
    access_to,
    require_run_write,
    require_supervisor,
)
from semweb.review.models import CommentKind, ReviewComment


def _lab(run: AnalysisRun):
    return run.micrograph.sample.project.lab


def _particle_id(run: AnalysisRun, particle_index: int | None) -> int | None:
    if particle_index in (None, ""):
        return None
    pid = run.particles.filter(index=int(particle_index)).values_list("pk", flat=True).first()
    if pid is None:
        raise ValidationError({"particle": f"run {run.pk} has no particle {particle_index}"})
    return pid


def _transition(
    *,
    run: AnalysisRun,
    user,
    sources: set[str],
    target: str,
    verb: str,
    kind: str,
    body: str = "",
    particle_index: int | None = None,
    revision: int | None = None,
    extra: dict | None = None,
) -> AnalysisRun:
    body = parse_text(body, name="body", max_chars=COMMENT_MAX_CHARS)
    with transaction.atomic():
        qs = AnalysisRun.objects.filter(
            pk=run.pk, status=RunStatus.SUCCEEDED, review_state__in=sources
        )
        if revision is not None:
            qs = qs.filter(revision=revision)
        changes = {"review_state": target, **(extra or {})}
        if not qs.update(**changes):
            current = AnalysisRun.objects.filter(pk=run.pk).values("review_state", "revision")
            state = current.first() or {}
            if revision is not None and state.get("revision") != revision:
                raise TransitionError(
                    "The analysis changed while you were reviewing it; reload and check again."
                )
            raise TransitionError(f"Not possible from state {state.get('review_state', '?')!r}.")
        run.refresh_from_db()
        particle_id = _particle_id(run, particle_index)
        comment = ReviewComment.objects.create(
            run=run, author=user, kind=kind, body=body, particle_id=particle_id
        )
        audit_record(
            actor=user,
            verb=verb,
            target=run,
            lab=_lab(run),
            review_state=target,
            revision=run.revision,
            comment=body[:500],
            comment_id=comment.pk,
            particle=particle_index,
        )
    return run


def run_submit(*, run: AnalysisRun, user, body: str = "") -> AnalysisRun:
    """A member asks for review of a finished run."""
    require_run_write(user, run, "You may not submit this analysis for review.")
    return _transition(
        run=run,
        user=user,
        sources=SUBMITTABLE_STATES,
        target=ReviewState.IN_REVIEW,
        verb="run.submit",
        kind=CommentKind.SUBMIT,
        body=body,
    )


def run_approve(*, run: AnalysisRun, user, revision: int | None, body: str = "") -> AnalysisRun:
    """A supervisor approves; the run becomes read-only. `revision` (what the supervisor saw)
    is required: approval fails when someone edited the run meanwhile, so an approval never
    covers changes its reviewer did not see."""
    require_supervisor(user, run)
    if revision is None:
        raise ValidationError(
            {"revision": "Approval needs the revision you reviewed (reload the analysis)."}
        )
    return _transition(
        run=run,
        user=user,
        sources={ReviewState.IN_REVIEW},
        target=ReviewState.APPROVED,
        verb="run.approve",
        kind=CommentKind.APPROVE,
        body=body,
        revision=revision,
        extra={"approved_by": user, "approved_at": timezone.now()},
    )


def run_request_changes(
    *, run: AnalysisRun, user, body: str, particle_index: int | None = None
) -> AnalysisRun:
    """A supervisor sends the run back with a comment (optionally pinned to a particle)."""
    require_supervisor(user, run)
    if not (body or "").strip():
        raise ValidationError({"body": "Say what should change."})
    return _transition(
        run=run,
        user=user,
        sources={ReviewState.IN_REVIEW},
        target=ReviewState.CHANGES_REQUESTED,
        verb="run.request_changes",
        kind=CommentKind.REQUEST_CHANGES,
        body=body,
        particle_index=particle_index,
    )


def comment_create(
    *, run: AnalysisRun, user, body: str, particle_index: int | None = None
) -> ReviewComment:
    """A plain comment (optionally pinned to a particle); anyone who may annotate the run."""
    if access_to(user, run) < Access.ANNOTATE:
        raise PermissionDenied("You may not comment on this analysis.")
    body = parse_text(body, name="body", max_chars=COMMENT_MAX_CHARS)
    if not body:
        raise ValidationError({"body": "A comment needs text."})
    with transaction.atomic():
        comment = ReviewComment.objects.create(
            run=run,
            author=user,
            kind=CommentKind.COMMENT,
            body=body,
            particle_id=_particle_id(run, particle_index),
        )
        audit_record(
            actor=user,
            verb="run.comment",
            target=run,
            lab=_lab(run),
            comment=body[:500],
            comment_id=comment.pk,
            particle=particle_index,
        )
    return comment
