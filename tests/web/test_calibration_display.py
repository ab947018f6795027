"""The run page says which calibration source won, lists the others and any disagreement,
and shows the data band's fields (the band itself is outlined on the overlay)."""

from __future__ import annotations

import dataclasses
import json

import pytest
from _runs import completed_run, make_micrograph

from analysis.calibration import calibrate
from analysis.calibration.render_bands import render_band_image
from analysis.io import image_from_array


@pytest.fixture
def run(sample, alice, bob):
    return completed_run(make_micrograph(sample, alice), bob)


def _store(run, cal) -> None:
    run.calibration = json.loads(json.dumps(cal.as_dict(), default=float))
    run.save(update_fields=["calibration"])


def test_page_lists_sources_and_the_winner(client, run, bob):
    r = render_band_image("phenom", 7001, width=1024, light=True, top=False)
    cal = calibrate(image_from_array(r.image))
    assert cal.source == "band_text"
    _store(run, cal)
    client.force_login(bob)
    html = client.get(f"/runs/{run.pk}/").content.decode()
    assert 'data-testid="calibration-sources"' in html
    assert '<tr class="chosen" data-source="band text">' in html
    assert 'data-source="scale bar"' in html
    assert 'data-testid="band-fields"' in html and "field_width" in html
    assert 'data-testid="calibration-disagreement"' not in html
    config = json.loads(html.split('id="review-config" type="application/json">')[1].split("<")[0])
    assert config["data_bar"] == r.band.as_dict()  # drawn and outlined by review.js


def test_page_states_a_disagreement(client, run, bob):
    r = render_band_image("phenom", 7001, width=1024, light=True, top=False)
    # ImageJ metadata claiming pixels twice the size the band and the bar say.
    meta = {
        "tags": {"XResolution": [1000, round(2 * r.pixel_size_nm * 1000)]},
        "vendor": {},
        "text": {},
        "imagej": {"unit": "nm"},
    }
    cal = calibrate(dataclasses.replace(image_from_array(r.image), metadata=meta))
    _store(run, cal)
    client.force_login(bob)
    html = client.get(f"/runs/{run.pk}/").content.decode()
    assert '<tr class="chosen" data-source="metadata">' in html
    assert '<tr data-source="band text">' in html  # listed, not used
    assert html.count('data-testid="calibration-disagreement"') == 2  # band text, scale bar
    assert "disagree by" in html
