"""Two reviewers editing one run keep both their changes; an approval racing an edit is
resolved by the run's revision: the approval names the revision it saw, so it either lands
before the edit (and the edit is refused: approved runs are read-only) or after it (and is
refused as stale). Never both, never an approval of unseen changes."""

from __future__ import annotations

import threading

import pytest
from _api import api_as, api_media_fixture  # noqa: F401
from _runs import FAKE_ENGINE, completed_run, make_micrograph
from django.db import connection

from semweb.analyses.models import AnalysisRun, ReviewState
from semweb.analyses.services import TransitionError, particles_set_accepted
from semweb.review.services import run_approve, run_submit


@pytest.fixture
def run(sample, alice, bob, api_media):
    run = completed_run(make_micrograph(sample, alice), bob)
    return run_submit(run=run, user=bob)


def _accepted(run) -> list[int]:
    return list(
        run.particles.filter(accepted=True).order_by("index").values_list("index", flat=True)
    )


def test_two_reviewers_with_stale_copies_keep_both_changes(run, bob, sam):
    bobs_copy = AnalysisRun.objects.get(pk=run.pk)
    sams_copy = AnalysisRun.objects.get(pk=run.pk)
    particles_set_accepted(run=bobs_copy, user=bob, indices=[1], accepted=False)
    particles_set_accepted(run=sams_copy, user=sam, indices=[3], accepted=False)
    run.refresh_from_db()
    assert _accepted(run) == [2, 4]
    assert run.revision == 2


def test_two_reviewers_over_the_api_keep_both_changes(run, bob, sam):
    url = f"/api/v1/runs/{run.pk}/particles"
    assert (
        api_as(bob).patch(url, {"indices": [2], "accepted": False}, format="json").status_code
        == 200
    )
    assert (
        api_as(sam).patch(url, {"indices": [4], "accepted": False}, format="json").status_code
        == 200
    )
    assert _accepted(run) == [1, 3]


def test_approval_of_a_stale_revision_is_refused_and_changes_nothing(run, bob, sam):
    seen = run.revision
    particles_set_accepted(run=run, user=bob, indices=[1], accepted=False)
    response = api_as(sam).post(
        f"/api/v1/runs/{run.pk}/review", {"action": "approve", "revision": seen}, format="json"
    )
    assert response.status_code == 409
    assert "changed while you were reviewing" in response.json()["detail"]
    run.refresh_from_db()
    assert (run.review_state, run.approved_by) == (ReviewState.IN_REVIEW, None)


def test_edit_after_approval_is_refused(run, bob, sam):
    run_approve(run=run, user=sam, revision=run.revision)
    with pytest.raises(TransitionError):
        particles_set_accepted(run=run, user=bob, indices=[1], accepted=False)
    assert _accepted(run) == [1, 2, 3, 4]


@pytest.mark.django_db(transaction=True)
def test_racing_approval_and_edit_never_both_succeed(sample, alice, bob, sam, settings, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("row locks between threads need PostgreSQL")

    settings.MEDIA_ROOT = tmp_path
    settings.SEMWEB_ENGINE = FAKE_ENGINE
    outcomes = []
    for attempt in range(5):
        run = run_submit(
            run=completed_run(
                make_micrograph(
                    sample,
                    alice,
                    name=f"{attempt}.png",
                    discs=[(60, 60, 10 + attempt), (160, 60, 15)],
                ),
                bob,
            ),
            user=bob,
        )
        seen = run.revision
        barrier = threading.Barrier(2)
        result: dict[str, str] = {}

        def approve(run_id=run.pk, seen=seen, result=result, barrier=barrier):
            barrier.wait()
            try:
                run_approve(run=AnalysisRun.objects.get(pk=run_id), user=sam, revision=seen)
                result["approve"] = "ok"
            except TransitionError:
                result["approve"] = "refused"
            finally:
                connection.close()

        def edit(run_id=run.pk, result=result, barrier=barrier):
            barrier.wait()
            try:
                particles_set_accepted(
                    run=AnalysisRun.objects.get(pk=run_id), user=bob, indices=[1], accepted=False
                )
                result["edit"] = "ok"
            except TransitionError:
                result["edit"] = "refused"
            finally:
                connection.close()

        threads = [threading.Thread(target=approve), threading.Thread(target=edit)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        run.refresh_from_db()
        assert sorted(result.values()) == ["ok", "refused"], result
        if result["approve"] == "ok":
            assert (run.review_state, run.revision, _accepted(run)) == ("approved", seen, [1, 2])
        else:
            assert (run.review_state, run.revision, _accepted(run)) == ("in_review", seen + 1, [2])
        outcomes.append(result["approve"])
    assert len(outcomes) == 5
