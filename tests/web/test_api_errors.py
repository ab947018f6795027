"""The API's one exception handler: services' validation errors are 400 in DRF's shape (field
names kept), refused transitions 409 with the reason, for every endpoint alike."""

from __future__ import annotations

from _api import api_as, api_media_fixture, approve  # noqa: F401
from _runs import completed_run, make_micrograph


def test_a_field_error_from_a_service_keeps_its_field_name(sam, bob, sample, api_media):
    run = completed_run(make_micrograph(sample, bob), bob)
    api_as(bob).post(f"/api/v1/runs/{run.pk}/review", {"action": "submit"}, format="json")
    response = api_as(sam).post(
        f"/api/v1/runs/{run.pk}/review", {"action": "request_changes"}, format="json"
    )
    assert (response.status_code, response.json()) == (400, {"body": ["Say what should change."]})


def test_editing_an_approved_run_is_a_409_with_the_reason(bob, sample, api_media):
    run = approve(completed_run(make_micrograph(sample, bob), bob), bob)
    response = api_as(bob).patch(
        f"/api/v1/runs/{run.pk}/particles", {"indices": [1], "accepted": False}, format="json"
    )
    assert response.status_code == 409
    assert response.json() == {
        "detail": "This analysis is approved and read-only; start a new run."
    }


def test_approving_an_unsubmitted_run_is_a_409(sam, bob, sample, api_media):
    run = completed_run(make_micrograph(sample, bob), bob)
    response = api_as(sam).post(
        f"/api/v1/runs/{run.pk}/review",
        {"action": "approve", "revision": run.revision},
        format="json",
    )
    assert (response.status_code, response.json()) == (
        409,
        {"detail": "Not possible from state 'unreviewed'."},
    )


def test_approving_without_the_reviewed_revision_is_a_400(sam, bob, sample, api_media):
    run = completed_run(make_micrograph(sample, bob), bob)
    api_as(bob).post(f"/api/v1/runs/{run.pk}/review", {"action": "submit"}, format="json")
    response = api_as(sam).post(
        f"/api/v1/runs/{run.pk}/review", {"action": "approve"}, format="json"
    )
    assert response.status_code == 400
    assert "revision" in response.json()
    run.refresh_from_db()
    assert run.review_state == "in_review"
