"""Sample aggregation (accepted particles of the latest approved, else latest finished, run of
each micrograph) and the project comparison."""

from __future__ import annotations

import pytest
from _runs import completed_run, make_micrograph

from semweb.analyses import selectors, services
from semweb.analyses.models import ReviewState
from semweb.catalogue.models import Sample


@pytest.fixture
def micrographs(sample, alice):
    return [
        make_micrograph(sample, alice, name="a.png"),
        make_micrograph(sample, alice, discs=[(50, 50, 12), (150, 120, 30)], name="b.png"),
    ]


def test_sample_pools_the_chosen_run_of_each_micrograph(micrographs, sample, bob):
    a, b = micrographs
    approved = completed_run(a, bob)
    newer = completed_run(a, bob)  # newer but not approved: the approved one wins
    services.particles_set_accepted(run=newer, user=bob, indices=[1, 2, 3], accepted=False)
    approved.review_state = ReviewState.APPROVED
    approved.save()
    latest_b = completed_run(b, bob)
    services.particles_set_accepted(run=latest_b, user=bob, indices=[1], accepted=False)
    stats = selectors.sample_statistics(sample)
    assert stats["n"] == 4 + 1
    by_name = {c["micrograph"].original_filename: c for c in stats["contributions"]}
    assert (by_name["a.png"]["run"], by_name["a.png"]["n"]) == (approved, 4)
    assert (by_name["b.png"]["run"], by_name["b.png"]["n"]) == (latest_b, 1)
    assert by_name["a.png"]["share"] == pytest.approx(0.8)
    assert stats["meets_rule"] is False and stats["summary"]["count"] == 5


def test_sample_page_shows_the_count_against_the_250_rule(client, micrographs, sample, bob, carol):
    completed_run(micrographs[0], bob)
    client.force_login(bob)
    html = client.get(f"/runs/samples/{sample.pk}/stats").content.decode()
    assert '<span data-testid="sample-n">4</span>' in html
    assert "below the 250-particle rule: 4 of 250" in html
    client.force_login(carol)
    assert client.get(f"/runs/samples/{sample.pk}/stats").status_code == 404


def test_project_comparison_has_one_row_per_sample(client, micrographs, project, sample, bob):
    completed_run(micrographs[0], bob)
    Sample.objects.create(project=project, name="Batch 8")
    rows = selectors.project_comparison(project)
    assert [(r["sample"].name, r["summary"]["count"]) for r in rows] == [
        ("Batch 7", 4),
        ("Batch 8", 0),
    ]
    client.force_login(bob)
    html = client.get(f"/runs/projects/{project.pk}/compare").content.decode()
    assert 'data-testid="compare-chart"' in html and "Batch 8" in html


def test_analyse_a_whole_sample_queues_one_run_per_micrograph(client, micrographs, sample, bob):
    client.force_login(bob)
    response = client.post(
        f"/runs/samples/{sample.pk}/analyse", {"method": "classical", "exclude_edge": "on"}
    )
    assert response.status_code == 302
    assert sorted(m.runs.count() for m in micrographs) == [1, 1]
    assert {r.method for m in micrographs for r in m.runs.all()} == {"classical"}
