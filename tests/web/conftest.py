"""Personas for web tests, as in healthchecks: alice (lab admin) and bob (member) in the
Mori lab, sam (supervisor) in the Mori lab, carol in the unrelated Kato lab."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from semweb.catalogue.models import Project, Sample
from semweb.labs.models import Lab, Membership, Role


@pytest.fixture
def lab(db) -> Lab:
    return Lab.objects.create(name="Mori lab", slug="mori")


@pytest.fixture
def other_lab(db) -> Lab:
    return Lab.objects.create(name="Kato lab", slug="kato")


def _user(username: str, lab: Lab | None, role: str | None):
    user = get_user_model().objects.create_user(
        username, f"{username}@example.org", "pw-" + username
    )
    if lab is not None:
        Membership.objects.create(user=user, lab=lab, role=role)
    return user


@pytest.fixture
def alice(lab):
    return _user("alice", lab, Role.ADMIN)


@pytest.fixture
def bob(lab):
    return _user("bob", lab, Role.MEMBER)


@pytest.fixture
def sam(lab):
    return _user("sam", lab, Role.SUPERVISOR)


@pytest.fixture
def carol(other_lab):
    return _user("carol", other_lab, Role.ADMIN)


@pytest.fixture
def project(lab, alice) -> Project:
    return Project.objects.create(lab=lab, name="Silica spheres", created_by=alice)


@pytest.fixture
def sample(project, alice) -> Sample:
    return Sample.objects.create(project=project, name="Batch 7", material="SiO2", created_by=alice)
