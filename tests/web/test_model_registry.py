"""The model registry's rules: who may train, what is refused, the held-back split,
promotion (beats the parent / rollback / audited override), retirement, which model a run
uses, and which labs see a lab's models."""

from __future__ import annotations

import pytest
from _api import api_as, api_media_fixture  # noqa: F401
from _models import ready_version, tiny_dataset
from _runs import make_micrograph
from django.core.exceptions import PermissionDenied, ValidationError

from semweb.analyses import services as runs
from semweb.audit.models import AuditEvent
from semweb.datasets.models import DatasetShare
from semweb.labs.models import ShareLevel
from semweb.labs.permissions import visible_models
from semweb.mlmodels import services
from semweb.mlmodels.models import ModelStatus, ModelVersion

pytestmark = pytest.mark.usefixtures("api_media")


@pytest.fixture
def dataset(lab, sample, alice):
    return tiny_dataset(lab, sample, alice, images=4)


def test_training_request_queues_a_version_with_its_split_and_parent(dataset, sam, settings):
    settings.SEMWEB_TRAIN_MIN_PARTICLES = 10
    version = services.training_request(dataset=dataset, user=sam, epochs=3, hours="0.5")
    assert (version.status, version.lab_id, version.dataset_id) == (
        ModelStatus.QUEUED,
        dataset.lab_id,
        dataset.pk,
    )
    assert version.parent == services.builtin_model()
    data = version.training_data
    assert (data["train_images"], data["held_back_images"]) == (3, 1)
    assert (data["train_particles"], data["held_back_particles"]) == (15, 5)
    assert sorted(data["train_run_ids"] + data["held_back_run_ids"]) == data["run_ids"]
    assert version.parameters["epochs"] == 3 and version.parameters["hours"] == 0.5
    assert AuditEvent.objects.filter(verb="model.train", target_id=str(version.pk)).exists()


def test_the_split_is_stable_when_runs_are_added(dataset, sample, alice):
    before = services.training_data(dataset)
    more = tiny_dataset(dataset.lab, sample, alice, images=8, name="more", first=4)
    dataset.runs.add(*more.runs.all())
    after = services.training_data(dataset)
    # Hash-ranked: a run held back before stays held back unless a new one outranks it.
    assert len(after["held_back_run_ids"]) == 3
    assert set(before["train_run_ids"]) - set(after["train_run_ids"]) <= set(
        after["held_back_run_ids"]
    )


def test_too_small_a_dataset_is_refused_with_the_number_needed(dataset, sam, settings):
    settings.SEMWEB_TRAIN_MIN_PARTICLES = 50
    with pytest.raises(ValidationError) as err:
        services.training_request(dataset=dataset, user=sam)
    message = " ".join(err.value.messages)
    assert "holds 15 real particles in 3 images" in message and "at least 50 are needed" in message
    assert not ModelVersion.objects.filter(builtin=False).exists()


def test_the_held_back_split_must_hold_a_third_of_the_floor(dataset, sam, settings):
    # The fixture holds 15 training and 5 held-back particles; a floor of 15 asks for 5.
    data = services.training_data(dataset)
    settings.SEMWEB_TRAIN_MIN_PARTICLES = 15
    assert services.training_refusal(data) is None
    thin = {**data, "held_back_particles": 4}
    assert "held-back split holds 4 particles; at least 5 are needed" in (
        services.training_refusal(thin) or ""
    )


def test_synthetic_particles_do_not_count_towards_the_floor(dataset, settings):
    settings.SEMWEB_TRAIN_MIN_PARTICLES = 15
    data = services.training_data(dataset)
    padded = {
        **data,
        "train_particles": data["train_particles"] + 100,
        "synthetic_particles": 100,
        "train_images": data["train_images"] + 10,
        "synthetic_images": 10,
    }
    assert services.training_refusal(padded) is None
    fewer_real = {**padded, "train_particles": padded["train_particles"] - 1}
    assert "holds 14 real particles in 3 images" in (services.training_refusal(fewer_real) or "")


def test_a_single_run_is_refused_for_lack_of_a_held_back_image(lab, sample, alice, settings):
    settings.SEMWEB_TRAIN_MIN_PARTICLES = 1
    one = tiny_dataset(lab, sample, alice, images=1)
    with pytest.raises(ValidationError, match="at least two approved runs"):
        services.training_request(dataset=one, user=alice)


@pytest.mark.parametrize(
    ("epochs", "hours", "field"),
    [(0, None, "epochs"), ("two", None, "epochs"), (True, None, "epochs"), (3, 99, "hours")],
)
def test_bad_epochs_or_hours_are_refused(dataset, sam, settings, epochs, hours, field):
    settings.SEMWEB_TRAIN_MIN_PARTICLES = 1
    with pytest.raises(ValidationError) as err:
        services.training_request(dataset=dataset, user=sam, epochs=epochs, hours=hours)
    assert field in err.value.message_dict


def test_members_may_not_train_and_a_second_training_waits(dataset, bob, sam, settings):
    settings.SEMWEB_TRAIN_MIN_PARTICLES = 1
    with pytest.raises(PermissionDenied):
        services.training_request(dataset=dataset, user=bob)
    services.training_request(dataset=dataset, user=sam, epochs=1)
    with pytest.raises(services.TransitionError):
        services.training_request(dataset=dataset, user=sam, epochs=1)


def test_promotion_needs_a_win_over_the_parent_or_an_audited_override(lab, alice, sam):
    builtin = services.builtin_model()
    worse = ready_version(lab, builtin, beats=False)
    with pytest.raises(PermissionDenied):
        services.model_promote(version=worse, user=sam)
    with pytest.raises(services.TransitionError, match="does not beat its parent"):
        services.model_promote(version=worse, user=alice)
    with pytest.raises(ValidationError, match="needs a reason"):
        services.model_promote(version=worse, user=alice, override=True)
    services.model_promote(version=worse, user=alice, override=True, reason="our new grids")
    event = AuditEvent.objects.get(verb="model.promote", target_id=str(worse.pk))
    assert (event.data["override"], event.data["reason"]) == (True, "our new grids")
    assert services.lab_default(lab) == worse


def test_promoting_replaces_the_default_and_rollback_restores_it(lab, alice):
    builtin = services.builtin_model()
    first = services.model_promote(version=ready_version(lab, builtin), user=alice)
    second = services.model_promote(version=ready_version(lab, first), user=alice)
    first.refresh_from_db()
    assert (first.status, second.status) == (ModelStatus.READY, ModelStatus.PROMOTED)
    # Rollback: a former default needs no new win.
    ModelVersion.objects.filter(pk=first.pk).update(beats_parent=False)
    first.refresh_from_db()
    services.model_promote(version=first, user=alice)
    second.refresh_from_db()
    assert (services.lab_default(lab), second.status) == (first, ModelStatus.READY)
    assert AuditEvent.objects.filter(verb="model.promote", target_id=str(first.pk)).count() == 2


def test_retiring_the_default_returns_the_lab_to_the_builtin_model(lab, alice):
    builtin = services.builtin_model()
    version = services.model_promote(version=ready_version(lab, builtin), user=alice)
    services.model_retire(version=version, user=alice)
    assert services.lab_default(lab) == builtin
    with pytest.raises(services.TransitionError):
        services.model_retire(version=version, user=alice)
    with pytest.raises(ValidationError, match="not usable"):
        services.model_for_run(user=alice, lab=lab, model=version)


def test_runs_link_to_the_lab_default_or_the_chosen_version(lab, sample, alice, bob):
    builtin = services.builtin_model()
    micrograph = make_micrograph(sample, alice)
    assert runs.run_create(micrograph=micrograph, user=bob).model == builtin
    assert runs.run_create(micrograph=micrograph, user=bob, method="classical").model is None
    lab_model = services.model_promote(version=ready_version(lab, builtin), user=alice)
    assert runs.run_create(micrograph=micrograph, user=bob, method="model").model == lab_model
    other = ready_version(lab, builtin, name="other")
    assert runs.run_create(micrograph=micrograph, user=bob, model=other).model == other


def test_other_labs_see_a_labs_models_only_when_its_dataset_is_shared(dataset, alice, carol, dave):
    version = ready_version(dataset.lab, services.builtin_model())
    version.dataset = dataset
    version.save()
    assert version in visible_models(alice)
    assert version not in visible_models(carol)
    assert version not in visible_models(dave)
    assert services.builtin_model() in visible_models(carol)
    DatasetShare.objects.create(dataset=dataset, lab=dave.labs.get(), level=ShareLevel.VIEW)
    assert version in visible_models(dave)
    with pytest.raises(ValidationError, match="No such model"):
        services.model_for_run(user=carol, lab=carol.labs.get(), model=version)


def test_api_train_refusal_states_the_floor(dataset, sam, settings):
    settings.SEMWEB_TRAIN_MIN_PARTICLES = 40
    response = api_as(sam).post(
        f"/api/v1/datasets/{dataset.pk}/train", {"epochs": 2}, format="json"
    )
    assert response.status_code == 400
    assert "at least 40 are needed" in response.json()["dataset"][0]


def test_api_lists_models_with_progress(dataset, sam, bob, settings):
    settings.SEMWEB_TRAIN_MIN_PARTICLES = 1
    response = api_as(sam).post(
        f"/api/v1/datasets/{dataset.pk}/train", {"epochs": 2, "hours": 0.1}, format="json"
    )
    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["status"], body["progress"]) == (
        "queued",
        {"epoch": 0, "epochs": 2, "history": []},
    )
    listed = api_as(bob).get("/api/v1/models/").json()["results"]
    assert {m["id"] for m in listed} == {body["id"], services.builtin_model().pk}
    detail = api_as(bob).get(f"/api/v1/models/{body['id']}").json()
    assert detail["parent"] == services.builtin_model().pk
