"""The typical particle size: given in the form / API / parameters, recorded with the path
taken, shown on the run page and in the API (issue 9)."""

from __future__ import annotations

import pytest
from _api import api_as
from _runs import make_micrograph

from semweb.analyses import engine, services, tasks
from semweb.analyses.models import AnalysisRun, RunStatus
from semweb.core.params import ParameterError


def test_particle_size_parameters_are_parsed_strictly():
    got = engine.normalise_parameters({"particle_size_px": "38"})
    assert got["particle_size_px"] == 38.0 and got["particle_size_nm"] is None
    assert engine.normalise_parameters({})["particle_size_px"] is None
    with pytest.raises(ParameterError, match="not both"):
        engine.normalise_parameters({"particle_size_px": 3, "particle_size_nm": 4})
    with pytest.raises(ParameterError):
        engine.normalise_parameters({"particle_size_px": -1})


def test_the_analyse_form_takes_a_size_in_nm(client, sample, alice, bob):
    m = make_micrograph(sample, alice)
    client.force_login(bob)
    response = client.post(
        f"/runs/micrographs/{m.pk}/analyse",
        {"method": "classical", "particle_size": "25", "particle_size_unit": "nm"},
    )
    assert response.status_code == 302
    run = AnalysisRun.objects.get(micrograph=m)
    assert run.parameters["particle_size_nm"] == 25.0
    assert run.parameters["particle_size_px"] is None
    form = client.get(f"/runs/micrographs/{m.pk}/analyse").content.decode()
    assert 'name="particle_size"' in form


def test_a_given_size_drives_the_run_and_is_shown_with_the_path(client, sample, alice, bob):
    m = make_micrograph(sample, alice)
    run = services.run_create(
        micrograph=m, user=bob, method="classical", parameters={"particle_size_px": 36}
    )
    assert tasks.run_analysis.apply(args=(run.pk,)).get() == "succeeded"
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED
    scale = run.segmentation["particle_scale"]
    assert (scale["source"], scale["diameter_px"]) == ("user", 36.0)
    # The floor follows the size: π/4 · (0.3 · 36)² ≈ 92 px.
    assert run.segmentation["min_area_px"] == pytest.approx(91.6, abs=0.1)
    assert run.particle_count == 4  # the four discs (20–50 px across) all pass it
    client.force_login(bob)
    html = client.get(f"/runs/{run.pk}/").content.decode()
    assert 'data-testid="particle-scale"' in html and "36.0 px</strong> (given)" in html
    assert 'data-testid="path-taken"' in html and "<strong>classical</strong>" in html
    body = api_as(bob).get(f"/api/v1/runs/{run.pk}").json()
    assert body["segmentation"]["particle_scale"]["diameter_px"] == 36.0
    assert body["path_taken"] == "classical"


def test_an_estimated_size_is_shown_with_its_confidence(client, sample, alice, bob):
    m = make_micrograph(sample, alice)
    run = services.run_create(micrograph=m, user=bob, method="classical")
    assert tasks.run_analysis.apply(args=(run.pk,)).get() == "succeeded"
    run.refresh_from_db()
    scale = run.segmentation["particle_scale"]
    assert scale["source"] == "estimate" and 20 <= scale["diameter_px"] <= 50
    client.force_login(bob)
    assert "(estimated, confidence" in client.get(f"/runs/{run.pk}/").content.decode()
