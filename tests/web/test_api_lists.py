"""API lists: only what the user may see, filterable, paginated, and a constant number of
queries whatever the page holds (no N+1)."""

from __future__ import annotations

import pytest
from _api import api_as

from semweb.analyses.models import AnalysisRun, Particle, RunStatus
from semweb.catalogue.models import Micrograph, Project, Sample
from semweb.datasets.models import Dataset

N = 30


def _micrographs(sample, n: int, start: int = 0) -> list[Micrograph]:
    return Micrograph.objects.bulk_create(
        Micrograph(
            sample=sample,
            original=f"originals/{i}.png",
            sha256=f"{i:064x}",
            original_filename=f"m{i}.png",
            format="PNG",
            width=10,
            height=10,
            bit_depth=8,
        )
        for i in range(start, start + n)
    )


@pytest.fixture
def many(sample, bob):
    micrographs = _micrographs(sample, N)
    runs = AnalysisRun.objects.bulk_create(
        AnalysisRun(micrograph=m, created_by=bob, status=RunStatus.SUCCEEDED) for m in micrographs
    )
    Particle.objects.bulk_create(
        Particle(
            run=runs[0],
            index=i,
            polygon=[[0, 0], [1, 0], [1, 1]],
            bbox_x0=0,
            bbox_y0=0,
            bbox_x1=1,
            bbox_y1=1,
            measurements={"ecd_nm": 5.0},
            ecd_nm=5.0,
        )
        for i in range(1, N + 1)
    )
    for i in range(N):
        Dataset.objects.create(lab=sample.project.lab, name=f"d{i}")
    return micrographs, runs


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/micrographs/",
        "/api/v1/runs/",
        "/api/v1/projects/",
        "/api/v1/samples/",
        "/api/v1/datasets/",
        "/api/v1/labs/",
    ],
)
def test_list_queries_do_not_grow_with_rows(url, many, bob, django_assert_max_num_queries):
    client = api_as(bob)
    # session-less force_authenticate: memberships (1), count (1), page (1), joins inlined.
    with django_assert_max_num_queries(4):
        response = client.get(url)
    assert response.status_code == 200


def test_particle_page_queries_are_constant(many, bob, django_assert_max_num_queries):
    _, runs = many
    with django_assert_max_num_queries(6):
        response = api_as(bob).get(f"/api/v1/runs/{runs[0].pk}/particles")
    assert response.json()["count"] == N


def test_micrographs_filter_by_sample_and_paginate(sample, project, bob):
    other = Sample.objects.create(project=project, name="Other")
    _micrographs(sample, 120)
    _micrographs(other, 3, start=500)
    client = api_as(bob)
    page1 = client.get(f"/api/v1/micrographs/?sample={sample.pk}").json()
    assert page1["count"] == 120
    assert len(page1["results"]) == 100
    page2 = client.get(page1["next"]).json()
    assert len(page2["results"]) == 20
    assert {m["sample"] for m in page1["results"] + page2["results"]} == {sample.pk}
    only_other = client.get(f"/api/v1/micrographs/?sample={other.pk}").json()
    assert only_other["count"] == 3


def test_outsider_sees_nothing_not_even_counts(many, carol, sample):
    client = api_as(carol)
    for url in (
        "/api/v1/micrographs/",
        "/api/v1/runs/",
        "/api/v1/projects/",
        "/api/v1/samples/",
        "/api/v1/datasets/",
    ):
        assert client.get(url).json()["count"] == 0, url
    # Filtering by someone else's sample id is an empty list, not an error that confirms it.
    assert client.get(f"/api/v1/micrographs/?sample={sample.pk}").json()["count"] == 0


def test_shared_lab_sees_the_shared_project_only(shared_project, dave, other_lab, carol):
    Project.objects.create(lab=other_lab, name="Kato secret", created_by=carol)
    names = [p["name"] for p in api_as(dave).get("/api/v1/projects/").json()["results"]]
    assert names == [shared_project.name]


def test_lab_list_shows_role_per_lab(alice, lab):
    assert api_as(alice).get("/api/v1/labs/").json()["results"] == [
        {"id": lab.pk, "name": "Mori lab", "slug": "mori", "description": "", "role": "admin"}
    ]


def test_bad_filter_value_is_a_400(bob):
    assert api_as(bob).get("/api/v1/micrographs/?sample=abc").status_code == 400
