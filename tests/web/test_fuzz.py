"""Property tests (Hypothesis): whatever a client sends as an import archive, analyse
parameters, particle edits or an upload name, the answer is never a 5xx, and a refused request
leaves the database and media as they were. Examples are bounded so the set runs in seconds."""

from __future__ import annotations

import io
import json
import os
import zipfile

import pytest
from _api import api_as, api_media_fixture  # noqa: F401
from _runs import completed_run, disc_png, make_micrograph
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from semweb.analyses.models import AnalysisRun, Particle
from semweb.catalogue.models import Micrograph
from semweb.datasets.services import dataset_import

FUZZ = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Anything JSON can carry, leaning towards the values that broke things (nan, inf, huge ints).
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["nan", "inf", "-1", "1e400", "abc", "", "0", "320", "2.5", "false"]),
    st.text(max_size=20),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
NUMBER = st.one_of(
    st.floats(min_value=-50, max_value=400, allow_nan=False), st.integers(-10, 400), SCALARS
)


def snapshot(media) -> tuple:
    files = sorted(str(p) for p in media.rglob("*") if p.is_file()) if media.exists() else []
    return (
        Micrograph.objects.count(),
        AnalysisRun.objects.count(),
        Particle.objects.count(),
        list(Particle.objects.order_by("pk").values_list("accepted", flat=True)),
        files,
    )


@st.composite
def coco_archives(draw) -> bytes:
    image = {
        "id": draw(st.one_of(st.just(1), SCALARS)),
        "file_name": draw(st.one_of(st.just("a.png"), st.text(max_size=12), SCALARS)),
        "width": draw(st.one_of(st.just(320), SCALARS)),
        "height": draw(st.one_of(st.just(240), SCALARS)),
        "pixel_size_nm": draw(st.one_of(st.just(2.0), SCALARS)),
    }
    polygon = draw(st.lists(NUMBER, min_size=0, max_size=12))
    annotation = {"image_id": draw(st.one_of(st.just(1), SCALARS)), "segmentation": [polygon]}
    document = draw(
        st.one_of(
            st.just({"images": [image], "annotations": [annotation]}),
            st.fixed_dictionaries({"images": JSON, "annotations": JSON}),
            JSON,
        )
    )
    text = json.dumps(document, allow_nan=True)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("annotations.json", text)
        archive.writestr("images/a.png", draw(st.sampled_from([disc_png(), b"\x89PNG broken"])))
    return buf.getvalue()


@st.composite
def yolo_archives(draw) -> bytes:
    coords = draw(st.lists(NUMBER, max_size=10))
    line = "0 " + " ".join(str(c) for c in coords)
    label = draw(st.one_of(st.just(line.encode()), st.binary(max_size=40)))
    calibration = json.dumps(draw(st.one_of(st.just({"a.png": 2.0}), JSON)), allow_nan=True)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("data.yaml", "train: images/train\nval: images/train\nnames:\n  0: p\n")
        archive.writestr("images/train/a.png", disc_png())
        archive.writestr("labels/train/a.txt", label)
        archive.writestr("calibration.json", calibration)
    return buf.getvalue()


@pytest.fixture
def run(sample, alice, api_media):
    return completed_run(make_micrograph(sample, alice), alice)


@FUZZ
@given(archive=st.one_of(coco_archives(), yolo_archives(), st.binary(max_size=200)))
def test_import_archives_never_half_write(archive, sample, alice, api_media):
    before = snapshot(api_media)
    try:
        runs = dataset_import(sample=sample, user=alice, fileobj=io.BytesIO(archive))
    except ValidationError as exc:
        assert exc.messages and all(exc.messages)
        assert snapshot(api_media) == before
    else:
        assert all(r.review_state == "in_review" for r in runs)
        AnalysisRun.objects.filter(pk__in=[r.pk for r in runs]).delete()


@FUZZ
@given(parameters=st.one_of(st.dictionaries(
    st.sampled_from(["pixel_size_nm", "min_size_nm", "exclude_edge", "other"]), SCALARS, max_size=3
), JSON))  # fmt: skip
def test_analyse_parameters_are_400_or_a_run(parameters, run, alice):
    before = AnalysisRun.objects.count()
    response = api_as(alice).post(
        f"/api/v1/micrographs/{run.micrograph_id}/analyze",
        json.dumps({"parameters": parameters}, allow_nan=True),
        content_type="application/json",
    )
    assert response.status_code in (202, 400), response.content
    assert AnalysisRun.objects.count() == before + (response.status_code == 202)


@FUZZ
@given(indices=st.one_of(st.lists(SCALARS, max_size=5), JSON), accepted=SCALARS)
def test_particle_edits_are_400_409_or_applied(indices, accepted, run, alice, api_media):
    before = snapshot(api_media)
    response = api_as(alice).patch(
        f"/api/v1/runs/{run.pk}/particles",
        json.dumps({"indices": indices, "accepted": accepted}, allow_nan=True),
        content_type="application/json",
    )
    assert response.status_code in (200, 400, 409), response.content
    if response.status_code != 200:
        assert snapshot(api_media) == before
    else:
        Particle.objects.filter(run=run).update(accepted=True)  # back to the start


# Django's test client itself refuses a file whose base name is empty, "." or ".." before any
# request is sent, so those names say nothing about the server.
UPLOAD_NAMES = st.text(max_size=300).filter(
    lambda n: os.path.basename(n or "x") not in {"", ".", ".."}
)


@settings(FUZZ, max_examples=12)
@given(name=UPLOAD_NAMES)
def test_upload_names_are_stored_safely_or_refused(name, sample, alice, api_media):
    before = snapshot(api_media)
    response = api_as(alice).post(
        "/api/v1/micrographs/",
        {"sample": sample.pk, "file": SimpleUploadedFile(name or "x", disc_png())},
        format="multipart",
    )
    assert response.status_code in (201, 400, 409), response.content
    if response.status_code == 201:
        stored = Micrograph.objects.get(pk=response.json()["id"])
        assert "/" not in stored.original_filename and "\x00" not in stored.original_filename
        assert len(stored.original_filename) <= 255
        stored.delete()
    else:
        assert snapshot(api_media)[:4] == before[:4]
