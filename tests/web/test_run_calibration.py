"""Correcting the calibration on the review page rescales every nm measurement and the summary
(no re-segmentation), sets the source to manual, and is audited."""

from __future__ import annotations

import json
import math

import pytest
from _runs import completed_run, make_micrograph

from semweb.audit.models import AuditEvent


@pytest.fixture
def run(sample, alice, bob):
    return completed_run(make_micrograph(sample, alice), bob)  # 2 nm/px


def _post(client, run, body):
    return client.post(
        f"/runs/{run.pk}/calibration", json.dumps(body), content_type="application/json"
    )


def test_typed_pixel_size_rescales_measurements(client, run, bob):
    before = {p.index: p for p in run.particles.all()}
    client.force_login(bob)
    response = _post(client, run, {"pixel_size_nm": 3.0})
    assert response.status_code == 200
    run.refresh_from_db()
    assert run.pixel_size_nm == 3.0
    assert run.calibration["source"] == "manual"
    assert run.calibration["previous_pixel_size_nm"] == 2.0
    for p in run.particles.all():
        old = before[p.index]
        assert math.isclose(p.ecd_nm, old.ecd_nm * 1.5)
        assert math.isclose(p.measurements["area_nm2"], old.measurements["area_nm2"] * 2.25)
        assert p.measurements["area_px"] == old.measurements["area_px"]  # not re-segmented
        assert p.polygon == old.polygon
    stats = response.json()["stats"]
    assert math.isclose(stats["summary"]["d50"], run.summary["d50"])
    assert AuditEvent.objects.filter(verb="run.calibrate", actor=bob).count() == 1


def test_a_line_over_the_scale_bar_sets_length_over_pixels(client, run, bob):
    client.force_login(bob)
    response = _post(client, run, {"line_px": 250.0, "length_nm": 500.0})
    assert response.status_code == 200
    run.refresh_from_db()
    assert run.pixel_size_nm == 2.0 * 1.0  # 500 nm / 250 px
    assert run.calibration["manual"] == {"method": "line", "line_px": 250.0, "length_nm": 500.0}


@pytest.mark.parametrize(
    "body", [{"pixel_size_nm": -1}, {"pixel_size_nm": "x"}, {"line_px": 0, "length_nm": 100}, {}]
)
def test_nonsense_calibration_is_refused(client, run, bob, body):
    client.force_login(bob)
    assert _post(client, run, body).status_code == 400
    run.refresh_from_db()
    assert run.pixel_size_nm == 2.0
