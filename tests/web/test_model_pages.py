"""Model registry pages: the dataset's Train card (with the refusal stating the floor), the
Train button queuing a version and opening its card, the model card's metrics and actions,
and the analyse form's model choice reaching the run."""

from __future__ import annotations

import pytest
from _api import api_media_fixture  # noqa: F401
from _models import ready_version, tiny_dataset
from _runs import make_micrograph
from django.urls import reverse

from semweb.analyses.models import AnalysisRun
from semweb.mlmodels import services
from semweb.mlmodels.models import ModelStatus, ModelVersion

pytestmark = pytest.mark.usefixtures("api_media")


@pytest.fixture
def dataset(lab, sample, alice):
    return tiny_dataset(lab, sample, alice, images=4)


def test_dataset_page_explains_why_training_is_refused(dataset, sam, client, settings):
    settings.SEMWEB_TRAIN_MIN_PARTICLES = 100
    client.force_login(sam)
    page = client.get(reverse("datasets:detail", args=[dataset.pk])).content.decode()
    assert 'data-testid="train-refusal"' in page
    assert "holds 15 real particles in 3 images; at least 100 are needed" in page
    assert 'data-testid="train-form"' not in page


def test_members_see_no_train_card(dataset, bob, client):
    client.force_login(bob)
    page = client.get(reverse("datasets:detail", args=[dataset.pk])).content.decode()
    assert 'data-testid="train-card"' not in page


def test_train_button_queues_a_version_and_opens_its_card(dataset, sam, client, settings):
    settings.SEMWEB_TRAIN_MIN_PARTICLES = 10
    client.force_login(sam)
    response = client.post(reverse("mlmodels:train", args=[dataset.pk]), {"epochs": "2"})
    version = ModelVersion.objects.get(dataset=dataset)
    assert response.url == reverse("mlmodels:detail", args=[version.pk])
    assert (version.status, version.parameters["epochs"]) == (ModelStatus.QUEUED, 2)
    page = client.get(response.url).content.decode()
    assert 'id="model-progress"' in page and "epoch 0 of 2" in page
    assert 'data-testid="cancel-training"' in page
    progress = client.get(reverse("mlmodels:progress", args=[version.pk])).json()
    assert (progress["status"], progress["training"], progress["epochs"]) == ("queued", True, 2)


def test_model_card_shows_metrics_and_the_override_for_a_version_that_lost(lab, alice, client):
    version = ready_version(lab, services.builtin_model(), beats=False)
    client.force_login(alice)
    page = client.get(reverse("mlmodels:detail", args=[version.pk])).content.decode()
    assert 'data-testid="model-metrics"' in page and "0.100" in page and "0.300" in page
    assert "Does not beat its parent" in page
    assert 'data-testid="override"' in page
    client.post(reverse("mlmodels:promote", args=[version.pk]), {"override": "true"})
    version.refresh_from_db()
    assert version.status == ModelStatus.READY  # refused: an override needs a reason
    client.post(reverse("mlmodels:promote", args=[version.pk]), {"override": "true", "reason": "x"})
    version.refresh_from_db()
    assert version.status == ModelStatus.PROMOTED


def test_analyse_form_offers_the_lab_models_and_the_run_uses_the_pick(
    lab, sample, alice, bob, client
):
    builtin = services.builtin_model()
    chosen = ready_version(lab, builtin, name="Grid B model")
    micrograph = make_micrograph(sample, alice)
    client.force_login(bob)
    url = reverse("analyses:micrograph_analyse", args=[micrograph.pk])
    page = client.get(url).content.decode()
    assert "Lab default: Built-in particle model" in page and "Grid B model" in page
    client.post(url, {"method": "model", "model": str(chosen.pk), "exclude_edge": "on"})
    assert AnalysisRun.objects.get(micrograph=micrograph).model == chosen
    response = client.post(url, {"method": "model", "model": "999999"})
    assert response.status_code == 400
