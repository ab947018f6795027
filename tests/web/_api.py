"""Helpers for API and export tests: a private media folder, a token client, and an approved
run of known particles (the fake engine's four discs)."""

from __future__ import annotations

import pytest
from _runs import FAKE_ENGINE, completed_run, make_micrograph
from django.utils import timezone
from rest_framework.test import APIClient

from semweb.analyses.models import ReviewState


@pytest.fixture(name="api_media")
def api_media_fixture(settings, tmp_path):
    """A private MEDIA_ROOT and the fake engine; import `api_media_fixture`, request `api_media`."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.SEMWEB_ENGINE = FAKE_ENGINE
    return settings.MEDIA_ROOT


def api_as(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def approve(run, user):
    """Mark a run approved directly (review services are tested elsewhere)."""
    run.review_state = ReviewState.APPROVED
    run.approved_by = user
    run.approved_at = timezone.now()
    run.save(update_fields=["review_state", "approved_by", "approved_at"])
    return run


def approved_run(sample, user, name="discs.png", discs=None):
    kwargs = {"name": name} if discs is None else {"name": name, "discs": discs}
    run = completed_run(make_micrograph(sample, user, **kwargs), user)
    return approve(run, user)
