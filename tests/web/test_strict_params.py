"""Strict parameters (`semweb.core.params`): non-finite numbers, words for yes/no and ids beyond
the database's range are a 400 naming the parameter, never a 500, and nothing is written."""

from __future__ import annotations

import json
import math

import pytest
from _api import api_as, api_media_fixture  # noqa: F401
from _runs import completed_run, make_micrograph
from django.http import Http404
from django.test import Client

from semweb.analyses import engine
from semweb.analyses.models import AnalysisRun, Particle
from semweb.audit.models import AuditEvent
from semweb.core.params import (
    BIGINT_MAX,
    ParameterError,
    id_or_404,
    parse_bool,
    parse_float,
    parse_int,
    parse_int_list,
)

BIG = "99999999999999999999999"


# --- the helper --------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e400", math.nan, math.inf, True, "x"])
def test_non_finite_or_non_numbers_are_refused(value):
    with pytest.raises(ParameterError) as info:
        parse_float(value, name="pixel_size_nm")
    assert list(info.value.message_dict) == ["pixel_size_nm"]


def test_floats_are_ranged_and_blank_is_none_only_when_optional():
    assert parse_float(" 2.5 ", name="x", positive=True) == 2.5
    assert parse_float("", name="x", required=False) is None
    with pytest.raises(ParameterError, match="greater than 0"):
        parse_float("-1", name="x", positive=True)
    with pytest.raises(ParameterError, match="at most"):
        parse_float("11", name="x", max_value=10)
    with pytest.raises(ParameterError, match="required"):
        parse_float(None, name="x")
    with pytest.raises(ParameterError, match="too long"):
        parse_float("1" * 1000, name="x")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("false", False), ("False", False), ("0", False), ("off", False), (False, False), (0, False),
     ("true", True), ("on", True), ("1", True), (True, True), (1, True)],
)  # fmt: skip
def test_booleans_read_the_word_not_its_truthiness(value, expected):
    assert parse_bool(value, name="exclude_edge") is expected


@pytest.mark.parametrize("value", ["maybe", 2, 0.5, [], "truee"])
def test_unknown_words_are_not_booleans(value):
    with pytest.raises(ParameterError, match="true or false"):
        parse_bool(value, name="exclude_edge")


def test_integers_stay_within_the_database_range():
    assert parse_int("42", name="n") == 42
    assert parse_int(3.0, name="n") == 3
    for value in (BIG, 10**30, 1e30, 3.5, -1, "1e3", "٣", None, True):
        with pytest.raises(ParameterError):
            parse_int(value, name="n")
    assert parse_int_list([1, "2"], name="indices") == [1, 2]
    with pytest.raises(ParameterError, match="more than"):
        parse_int_list([1, 2, 3], name="indices", max_items=2)


def test_ids_out_of_range_are_simply_not_found():
    assert id_or_404(str(BIGINT_MAX)) == BIGINT_MAX
    for value in (BIG, "0", "-3", "abc", ""):
        with pytest.raises(Http404):
            id_or_404(value)


def test_analysis_parameters_are_strict():
    assert engine.normalise_parameters({"exclude_edge": "false"})["exclude_edge"] is False
    assert engine.normalise_parameters({})["exclude_edge"] is True
    with pytest.raises(ParameterError, match="finite"):
        engine.normalise_parameters({"pixel_size_nm": "inf"})
    with pytest.raises(ParameterError, match="unknown"):
        engine.normalise_parameters({"pixel_size": 2})


# --- every URL of the issue ----------------------------------------------------------------------


@pytest.fixture
def run(sample, alice, api_media):
    return completed_run(make_micrograph(sample, alice), alice)


def _page(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def _snapshot():
    return (
        AnalysisRun.objects.count(),
        list(Particle.objects.order_by("pk").values_list("accepted", flat=True)),
        list(AnalysisRun.objects.order_by("pk").values_list("revision", flat=True)),
        AuditEvent.objects.count(),
    )


@pytest.mark.parametrize(
    "parameters",
    [
        {"pixel_size_nm": "inf"},
        {"pixel_size_nm": "nan"},
        {"pixel_size_nm": "1e400"},
        {"pixel_size_nm": -2},
        {"min_size_nm": "abc"},
        {"exclude_edge": "perhaps"},
        {"unknown": 1},
        ["not", "a", "dict"],
    ],
)
def test_api_analyze_refuses_bad_parameters(run, alice, parameters):
    before = _snapshot()
    response = api_as(alice).post(
        f"/api/v1/micrographs/{run.micrograph_id}/analyze",
        {"parameters": parameters},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert _snapshot() == before


def test_api_analyze_refuses_a_json_number_that_overflows(run, alice):
    response = api_as(alice).post(
        f"/api/v1/micrographs/{run.micrograph_id}/analyze",
        '{"parameters": {"pixel_size_nm": 1e400}}',
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json() == {"pixel_size_nm": ["must be a finite number"]}
    assert AnalysisRun.objects.count() == 1


def test_api_analyze_reads_false_as_false(run, alice):
    response = api_as(alice).post(
        f"/api/v1/micrographs/{run.micrograph_id}/analyze",
        {"parameters": {"exclude_edge": "false", "pixel_size_nm": "2.5", "particle_size_nm": "40"}},
        format="json",
    )
    assert response.status_code == 202, response.content
    assert response.json()["parameters"] == {
        "exclude_edge": False,
        "pixel_size_nm": 2.5,
        "min_size_nm": None,
        "particle_size_px": None,
        "particle_size_nm": 40.0,
    }


@pytest.mark.parametrize("value", ["1e400", "nan", "-1", "abc"])
def test_analyse_form_refuses_bad_pixel_size_with_the_form_again(run, alice, value):
    before = _snapshot()
    response = _page(alice).post(
        f"/runs/micrographs/{run.micrograph_id}/analyse", {"pixel_size_nm": value}
    )
    assert response.status_code == 400
    assert "pixel_size_nm" in response.content.decode()
    assert _snapshot() == before


def test_analyse_form_unticked_box_means_false(run, alice):
    response = _page(alice).post(
        f"/runs/micrographs/{run.micrograph_id}/analyse", {"pixel_size_nm": "2"}
    )
    assert response.status_code == 302
    assert AnalysisRun.objects.latest("pk").parameters["exclude_edge"] is False


@pytest.mark.parametrize(
    "url",
    [
        f"/api/v1/runs/?micrograph={BIG}",
        f"/api/v1/samples/?project={BIG}",
        f"/api/v1/micrographs/?sample={BIG}",
        "/api/v1/runs/?micrograph=-1",
        "/api/v1/runs/?micrograph=abc",
    ],
)
def test_api_filters_refuse_ids_beyond_range(run, alice, url):
    response = api_as(alice).get(url)
    assert response.status_code == 400
    assert set(response.json()) <= {"micrograph", "project", "sample"}


def test_api_particle_filter_refuses_unknown_words(run, alice):
    client = api_as(alice)
    assert client.get(f"/api/v1/runs/{run.pk}/particles?accepted=nope").status_code == 400
    assert client.get(f"/api/v1/runs/{run.pk}/particles?accepted=false").json()["count"] == 0


@pytest.mark.parametrize("index", [1e30, 10**30, -1, "x", 2.5])
def test_api_particle_patch_refuses_indices_beyond_range(run, alice, index):
    before = _snapshot()
    response = api_as(alice).patch(
        f"/api/v1/runs/{run.pk}/particles", {"indices": [index], "accepted": False}, format="json"
    )
    assert response.status_code == 400
    assert "indices" in response.json()
    assert _snapshot() == before


@pytest.mark.parametrize(
    "body",
    [
        '{"indices": [1e30], "accepted": false}',
        '{"indices": [100000000000000000000000000000], "accepted": false}',
        '{"indices": [1], "accepted": "maybe"}',
        '{"indices": "1", "accepted": false}',
        "[1, 2]",
    ],
)
def test_page_accept_refuses_indices_beyond_range(run, alice, body):
    before = _snapshot()
    response = _page(alice).post(f"/runs/{run.pk}/accept", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]
    assert _snapshot() == before


@pytest.mark.parametrize("ids", [[BIG], ["1", "abc"], ["-5"]])
def test_sample_analyse_refuses_micrograph_ids_beyond_range(run, alice, sample, ids):
    before = _snapshot()
    response = _page(alice).post(f"/runs/samples/{sample.pk}/analyse", {"micrograph": ids})
    assert response.status_code == 400
    assert "micrograph" in response.content.decode()
    assert _snapshot() == before


@pytest.mark.parametrize(
    "body",
    [
        {"pixel_size_nm": "inf"},
        {"pixel_size_nm": "1e400"},
        {"line_px": "nan", "length_nm": 100},
        {"line_px": 10, "length_nm": "1e400"},
        {},
    ],
)
def test_calibration_refuses_non_finite_values(run, alice, body):
    before = _snapshot()
    response = _page(alice).post(
        f"/runs/{run.pk}/calibration", json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 400
    assert _snapshot() == before


def test_review_revision_beyond_range_is_400(run, alice):
    response = api_as(alice).post(
        f"/api/v1/runs/{run.pk}/review", {"action": "approve", "revision": 10**30}, format="json"
    )
    assert response.status_code == 400
    assert "revision" in response.json()


def test_dataset_import_page_with_an_out_of_range_sample_is_404(run, alice):
    response = _page(alice).post("/datasets/import/", {"sample": BIG})
    assert response.status_code == 404
