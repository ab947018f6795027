"""Review states: member submits → in review; supervisor approves or requests changes (with a
comment, optionally pinned to a particle); who may do what; approval guarded by revision."""

from __future__ import annotations

import pytest
from _runs import completed_run, make_micrograph
from django.core.exceptions import PermissionDenied, ValidationError

from semweb.analyses import services as runs
from semweb.analyses.models import ReviewState
from semweb.analyses.services import TransitionError
from semweb.audit.models import AuditEvent
from semweb.catalogue.models import ProjectShare
from semweb.review import services
from semweb.review.models import CommentKind, ReviewComment


@pytest.fixture
def run(sample, alice, bob):
    return completed_run(make_micrograph(sample, alice), bob)


def test_member_submits_and_supervisor_approves(run, bob, sam):
    services.run_submit(run=run, user=bob, body="please check")
    assert run.review_state == ReviewState.IN_REVIEW
    services.run_approve(run=run, user=sam, revision=run.revision)
    run.refresh_from_db()
    assert (run.review_state, run.approved_by) == (ReviewState.APPROVED, sam)
    assert run.approved_at is not None
    verbs = list(
        AuditEvent.objects.filter(target_id=str(run.pk), verb__startswith="run.")
        .order_by("id")
        .values_list("verb", flat=True)
    )
    assert verbs[-2:] == ["run.submit", "run.approve"]
    kinds = list(run.comments.values_list("kind", flat=True))
    assert kinds == [CommentKind.SUBMIT, CommentKind.APPROVE]


def test_member_cannot_approve(run, bob):
    services.run_submit(run=run, user=bob)
    with pytest.raises(PermissionDenied):
        services.run_approve(run=run, user=bob, revision=run.revision)
    run.refresh_from_db()
    assert run.review_state == ReviewState.IN_REVIEW


def test_annotating_lab_cannot_approve_even_as_its_admin(run, bob, project, other_lab, carol):
    ProjectShare.objects.create(project=project, lab=other_lab, level="annotate")
    services.run_submit(run=run, user=bob)
    with pytest.raises(PermissionDenied):
        services.run_approve(run=run, user=carol, revision=run.revision)


def test_request_changes_needs_a_comment_and_may_pin_a_particle(run, bob, sam):
    services.run_submit(run=run, user=bob)
    with pytest.raises(ValidationError):
        services.run_request_changes(run=run, user=sam, body="  ")
    services.run_request_changes(run=run, user=sam, body="#3 is two particles", particle_index=3)
    run.refresh_from_db()
    assert run.review_state == ReviewState.CHANGES_REQUESTED
    comment = ReviewComment.objects.get(kind=CommentKind.REQUEST_CHANGES)
    assert (comment.body, comment.particle.index) == ("#3 is two particles", 3)
    services.run_submit(run=run, user=bob)  # fixed: back to review
    assert run.review_state == ReviewState.IN_REVIEW


def test_approve_is_refused_when_the_run_changed_since_the_supervisor_looked(run, bob, sam):
    services.run_submit(run=run, user=bob)
    seen = run.revision
    runs.particles_set_accepted(run=run, user=bob, indices=[1], accepted=False)
    with pytest.raises(TransitionError, match="changed while you were reviewing"):
        services.run_approve(run=run, user=sam, revision=seen)
    run.refresh_from_db()
    assert run.review_state == ReviewState.IN_REVIEW


def test_approval_without_the_reviewed_revision_is_refused(run, bob, sam):
    services.run_submit(run=run, user=bob)
    with pytest.raises(ValidationError, match="revision you reviewed"):
        services.run_approve(run=run, user=sam, revision=None)
    run.refresh_from_db()
    assert run.review_state == ReviewState.IN_REVIEW


def test_only_in_review_runs_can_be_approved(run, sam):
    with pytest.raises(TransitionError):
        services.run_approve(run=run, user=sam, revision=run.revision)
    run.refresh_from_db()
    assert run.review_state == ReviewState.UNREVIEWED


def test_approved_runs_are_read_only(run, bob, sam):
    services.run_submit(run=run, user=bob)
    services.run_approve(run=run, user=sam, revision=run.revision)
    with pytest.raises(TransitionError):
        runs.particles_set_accepted(run=run, user=sam, indices=[1], accepted=False)
    with pytest.raises(TransitionError):
        runs.run_set_calibration(run=run, user=sam, pixel_size_nm=3.0)
    with pytest.raises(TransitionError):
        services.run_submit(run=run, user=bob)
    run.refresh_from_db()
    assert run.pixel_size_nm == 2.0
    assert run.particles.filter(accepted=False).count() == 0


def test_other_labs_cannot_comment_or_submit(run, carol):
    with pytest.raises(PermissionDenied):
        services.comment_create(run=run, user=carol, body="hi")
    with pytest.raises(PermissionDenied):
        services.run_submit(run=run, user=carol)
