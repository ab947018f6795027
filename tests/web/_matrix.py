"""Extra personas for permission tests: dave in the Sato lab (a project shared at *view*),
erin in the Ito lab (shared at *annotate*), carol in the unrelated Kato lab.

Import the fixtures into a test module with
``from _matrix import dave, erin, shared_project, view_lab, annotate_lab  # noqa: F401``
(pytest puts this folder on ``sys.path``).
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from semweb.catalogue.models import ProjectShare
from semweb.labs.models import Lab, Membership, Role, ShareLevel

__all__ = ["view_lab", "annotate_lab", "dave", "erin", "shared_project", "PERSONAS"]

# Persona name → what it stands for in the matrix.
PERSONAS = ["anonymous", "bob", "sam", "alice", "dave", "erin", "carol"]


def _user(username: str, lab: Lab | None, role: str | None):
    user = get_user_model().objects.create_user(
        username, f"{username}@example.org", "pw-" + username
    )
    if lab is not None:
        Membership.objects.create(user=user, lab=lab, role=role)
    return user


@pytest.fixture
def view_lab(db) -> Lab:
    return Lab.objects.create(name="Sato lab", slug="sato")


@pytest.fixture
def annotate_lab(db) -> Lab:
    return Lab.objects.create(name="Ito lab", slug="ito")


@pytest.fixture
def dave(view_lab):
    return _user("dave", view_lab, Role.MEMBER)


@pytest.fixture
def erin(annotate_lab):
    return _user("erin", annotate_lab, Role.MEMBER)


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
