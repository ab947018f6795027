"""Who may change a run: the owning lab's members any unlocked run; annotate-shared labs only
the runs they created; view-shared labs none; nobody an approved run."""

from __future__ import annotations

import json

import pytest
from _runs import completed_run, make_micrograph
from django.core.exceptions import PermissionDenied

from semweb.analyses import services
from semweb.catalogue.models import ProjectShare


@pytest.fixture
def micrograph(sample, alice):
    return make_micrograph(sample, alice)


@pytest.fixture
def annotating_carol(project, other_lab, carol):
    ProjectShare.objects.create(project=project, lab=other_lab, level="annotate")
    return carol


def test_annotating_lab_edits_its_own_runs_only(micrograph, bob, annotating_carol):
    carols_run = completed_run(micrograph, annotating_carol)
    bobs_run = completed_run(micrograph, bob)
    assert (
        services.particles_set_accepted(
            run=carols_run, user=annotating_carol, indices=[1], accepted=False
        )
        == 1
    )
    with pytest.raises(PermissionDenied):
        services.particles_set_accepted(
            run=bobs_run, user=annotating_carol, indices=[1], accepted=False
        )
    with pytest.raises(PermissionDenied):
        services.run_set_calibration(run=bobs_run, user=annotating_carol, pixel_size_nm=3)
    assert bobs_run.particles.filter(accepted=False).count() == 0


def test_member_edits_any_run_of_the_lab(micrograph, bob, sam):
    run = completed_run(micrograph, bob)
    assert services.particles_set_accepted(run=run, user=sam, indices=[2, 3], accepted=False) == 2


def test_annotating_lab_gets_403_on_others_runs_through_the_page(
    client, micrograph, bob, annotating_carol
):
    run = completed_run(micrograph, bob)
    client.force_login(annotating_carol)
    response = client.post(
        f"/runs/{run.pk}/accept",
        json.dumps({"indices": [1], "accepted": False}),
        content_type="application/json",
    )
    assert response.status_code == 403
    html = client.get(f"/runs/{run.pk}/").content.decode()
    assert 'id="reject-selected"' not in html
