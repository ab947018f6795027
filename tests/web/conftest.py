"""Personas for web tests, as in healthchecks: alice (lab admin) and bob (member) in the
Mori lab, sam (supervisor) in the Mori lab, carol in the unrelated Kato lab. For sharing and
permission tests: dave in the Sato lab (``shared_project`` is shared with it at *view*) and
erin in the Ito lab (shared at *annotate*). Every persona's password is ``pw-<username>``."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from semweb.catalogue.models import Project, ProjectShare, Sample
from semweb.labs.models import Lab, Membership, Role, ShareLevel


def _lab(name: str, slug: str):
    """A fixture that makes the lab ``name``."""

    @pytest.fixture
    def make_lab(db) -> Lab:
        return Lab.objects.create(name=name, slug=slug)

    return make_lab


def _persona(username: str, lab: str, role: str):
    """A fixture that makes the user ``username``, with ``role`` in the lab that the fixture
    named ``lab`` makes."""

    @pytest.fixture(name=username)
    def make_persona(db, request):
        member_of = request.getfixturevalue(lab)
        user = get_user_model().objects.create_user(
            username, f"{username}@example.org", "pw-" + username
        )
        Membership.objects.create(user=user, lab=member_of, role=role)
        return user

    return make_persona


lab = _lab("Mori lab", "mori")
other_lab = _lab("Kato lab", "kato")
view_lab = _lab("Sato lab", "sato")
annotate_lab = _lab("Ito lab", "ito")

alice = _persona("alice", "lab", Role.ADMIN)
bob = _persona("bob", "lab", Role.MEMBER)
sam = _persona("sam", "lab", Role.SUPERVISOR)
carol = _persona("carol", "other_lab", Role.ADMIN)
dave = _persona("dave", "view_lab", Role.MEMBER)
erin = _persona("erin", "annotate_lab", Role.MEMBER)


@pytest.fixture
def project(lab, alice) -> Project:
    return Project.objects.create(lab=lab, name="Silica spheres", created_by=alice)


@pytest.fixture
def sample(project, alice) -> Sample:
    return Sample.objects.create(project=project, name="Batch 7", material="SiO2", created_by=alice)


@pytest.fixture
def shared_project(project, view_lab, annotate_lab, alice):
    """`project` shared with Sato at view and with Ito at annotate."""
    ProjectShare.objects.create(
        project=project, lab=view_lab, level=ShareLevel.VIEW, granted_by=alice
    )
    ProjectShare.objects.create(
        project=project, lab=annotate_lab, level=ShareLevel.ANNOTATE, granted_by=alice
    )
    return project
