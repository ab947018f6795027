"""Every page, API endpoint and file URL × every persona, with the exact status expected.

Personas: anonymous; bob (member), sam (supervisor), alice (lab admin) of the owning Mori lab;
dave (Sato lab, project and dataset shared at *view*); erin (Ito lab, shared at *annotate*);
carol (Kato lab, unrelated). Invisible objects answer 404 (existence never leaks), visible but
forbidden ones 403, anonymous page requests redirect to the login page (302) and anonymous
API requests answer 403.

URLs are collected from the URL resolver: a new URL that is not classified here fails
`test_every_url_is_in_the_matrix`. Each persona's request runs in a savepoint that is rolled
back, so one persona's successful write never changes what the next one sees.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from _api import api_media_fixture, approve  # noqa: F401
from _runs import completed_run, disc_png, make_micrograph
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from semweb.analyses.edits import particle_add, run_undo
from semweb.analyses.models import ReviewState
from semweb.analyses.services import run_create
from semweb.datasets.models import Dataset, DatasetExport, DatasetShare, ExportStatus
from semweb.labs.models import Membership, ShareLevel
from semweb.mlmodels.models import ModelStatus, ModelVersion, StyleModel
from semweb.mlmodels.services import builtin_model

PERSONAS = ["anonymous", "bob", "sam", "alice", "dave", "erin", "carol"]


def profile(anonymous, member, supervisor, admin, view, annotate, outsider) -> dict[str, int]:
    return dict(
        zip(PERSONAS, [anonymous, member, supervisor, admin, view, annotate, outsider], strict=True)
    )


# Read profiles.
PUBLIC = profile(200, 200, 200, 200, 200, 200, 200)
ANY_USER = profile(302, 200, 200, 200, 200, 200, 200)
ANY_USER_API = profile(403, 200, 200, 200, 200, 200, 200)
VIEW = profile(302, 200, 200, 200, 200, 200, 404)
VIEW_API = profile(403, 200, 200, 200, 200, 200, 404)
MEMBER_PAGE = profile(302, 200, 200, 200, 403, 403, 404)
LAB_MEMBERS = profile(302, 200, 200, 200, 404, 404, 404)
LAB_MEMBERS_API = profile(403, 200, 200, 200, 404, 404, 404)
# Edits of a run (bob's), and of erin's own run (she may edit it; dave may not).
EDIT_200 = profile(403, 200, 200, 200, 403, 403, 404)
EDIT_201 = profile(403, 201, 201, 201, 403, 403, 404)
OWN_EDIT_200 = profile(403, 200, 200, 200, 403, 200, 404)
OWN_EDIT_201 = profile(403, 201, 201, 201, 403, 201, 404)
# Models and styles: supervisors and admins start training and generation and cancel what is
# queued (the lab's private model and style: the sharing labs do not see them, 404); only admins
# promote and retire.
START = profile(302, 403, 302, 302, 403, 403, 404)
START_API = profile(403, 403, 202, 202, 403, 403, 404)
CANCEL = profile(302, 403, 302, 302, 404, 404, 404)
CANCEL_API = profile(403, 403, 200, 200, 404, 404, 404)
ADMIN_ONLY = profile(302, 403, 403, 302, 403, 403, 404)
ADMIN_ONLY_API = profile(403, 403, 403, 200, 403, 403, 404)
SQUARE = [[250, 10], [280, 10], [280, 40], [250, 40]]  # empty corner of the discs image


@dataclass
class Case:
    name: str  # URL name as the resolver knows it
    method: str
    url: Any  # (ctx) -> str
    expect: dict[str, int]
    data: Any = None  # (ctx) -> dict, or a dict
    json: bool = False
    multipart: bool = False
    label: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.name}{'[' + self.label + ']' if self.label else ''}-{self.method}"


def u(name: str, attr: str | None = None, *more: str):
    """URL builder: `u("api_run", "run")` → reverse(name, args=[ctx.run.pk])."""

    def build(ctx) -> str:
        args = []
        if attr is not None:
            args.append(getattr(ctx, attr).pk if attr != "lab_slug" else ctx.lab.slug)
        for m in more:
            value = getattr(ctx, m, m)
            args.append(getattr(value, "pk", value))
        return reverse(name, args=args)

    return build


def posts(*rows: tuple[str, str, dict[str, int], Any], json: bool = False) -> list[Case]:
    """POST cases, one per ``(URL name, ctx attribute of its object, expect, data)`` row."""
    return [
        Case(name, "POST", u(name, attr), expect, data=data, json=json)
        for name, attr, expect, data in rows
    ]


def scoped(name: str, scope: str, *extra: str):
    def build(ctx) -> str:
        obj = {"run": ctx.run, "sample": ctx.sample, "project": ctx.project}[scope]
        return reverse(name, args=[scope, obj.pk, *extra])

    return build


CASES = [
    # --- site -------------------------------------------------------------------------------
    Case("home", "GET", u("home"), ANY_USER),
    Case("healthz", "GET", u("healthz"), PUBLIC),
    Case("login", "GET", u("login"), PUBLIC),
    Case("logout", "POST", u("logout"), profile(302, 302, 302, 302, 302, 302, 302)),
    # --- labs ---------------------------------------------------------------------------------
    Case("labs:list", "GET", u("labs:list"), ANY_USER),
    Case("labs:detail", "GET", u("labs:detail", "lab_slug"), LAB_MEMBERS),
    Case(
        "labs:membership_add",
        "POST",
        u("labs:membership_add", "lab_slug"),
        profile(302, 403, 403, 302, 404, 404, 404),
        data={"user": "carol", "role": "member"},
    ),
    Case(
        "labs:membership_role",
        "POST",
        u("labs:membership_role", "lab_slug", "bob_membership"),
        profile(302, 403, 403, 302, 404, 404, 404),
        data={"role": "supervisor"},
    ),
    Case(
        "labs:membership_remove",
        "POST",
        u("labs:membership_remove", "lab_slug", "bob_membership"),
        profile(302, 403, 403, 302, 404, 404, 404),
    ),
    Case("labs:project_sharing", "GET", u("labs:project_sharing", "project"), MEMBER_PAGE),
    Case(
        "labs:project_sharing",
        "POST",
        u("labs:project_sharing", "project"),
        profile(302, 403, 403, 302, 403, 403, 404),
        data={"lab": "kato", "level": "view"},
    ),
    Case(
        "labs:project_share_revoke",
        "POST",
        u("labs:project_share_revoke", "project", "view_share"),
        profile(302, 403, 403, 302, 403, 403, 404),
    ),
    Case("labs:dataset_sharing", "GET", u("labs:dataset_sharing", "dataset"), MEMBER_PAGE),
    Case(
        "labs:dataset_sharing",
        "POST",
        u("labs:dataset_sharing", "dataset"),
        profile(302, 403, 403, 302, 403, 403, 404),
        data={"lab": "kato", "level": "view"},
    ),
    Case(
        "labs:dataset_share_revoke",
        "POST",
        u("labs:dataset_share_revoke", "dataset", "dataset_view_share"),
        profile(302, 403, 403, 302, 403, 403, 404),
    ),
    # --- catalogue pages and files -------------------------------------------------------------
    Case("catalogue:project_list", "GET", u("catalogue:project_list"), ANY_USER),
    Case("catalogue:project_create", "GET", u("catalogue:project_create"), ANY_USER),
    Case("catalogue:project_detail", "GET", u("catalogue:project_detail", "project"), VIEW),
    Case("catalogue:project_edit", "GET", u("catalogue:project_edit", "project"), MEMBER_PAGE),
    Case("catalogue:sample_create", "GET", u("catalogue:sample_create", "project"), MEMBER_PAGE),
    Case("catalogue:sample_detail", "GET", u("catalogue:sample_detail", "sample"), VIEW),
    Case("catalogue:sample_edit", "GET", u("catalogue:sample_edit", "sample"), MEMBER_PAGE),
    Case(
        "catalogue:sample_upload",
        "POST",
        u("catalogue:sample_upload", "sample"),
        profile(302, 302, 302, 302, 403, 403, 404),
    ),
    Case(
        "catalogue:micrograph_detail", "GET", u("catalogue:micrograph_detail", "micrograph"), VIEW
    ),
    Case(
        "catalogue:micrograph_preview", "GET", u("catalogue:micrograph_preview", "micrograph"), VIEW
    ),
    Case(
        "catalogue:micrograph_original",
        "GET",
        u("catalogue:micrograph_original", "micrograph"),
        VIEW,
    ),
    Case(
        "catalogue:micrograph_sidecar",
        "GET",
        u("catalogue:micrograph_sidecar", "micrograph"),
        VIEW,
    ),
    # --- runs, review (pages) ------------------------------------------------------------------
    Case("analyses:run", "GET", u("analyses:run", "run"), VIEW),
    Case("analyses:progress", "GET", u("analyses:progress", "run"), VIEW),
    Case("analyses:particles", "GET", u("analyses:particles", "run"), VIEW),
    Case("analyses:stats", "GET", u("analyses:stats", "run"), VIEW),
    Case(
        "analyses:accept",
        "POST",
        u("analyses:accept", "run"),
        profile(302, 200, 200, 200, 403, 403, 404),
        data={"indices": [1], "accepted": False},
        json=True,
    ),
    Case(
        "analyses:accept",
        "POST",
        u("analyses:accept", "erin_run"),
        profile(302, 200, 200, 200, 403, 200, 404),
        data={"indices": [1], "accepted": False},
        json=True,
        label="own run",
    ),
    Case(
        "analyses:calibration",
        "POST",
        u("analyses:calibration", "run"),
        profile(302, 200, 200, 200, 403, 403, 404),
        data={"pixel_size_nm": 3.0},
        json=True,
    ),
    Case(
        "analyses:cancel",
        "POST",
        u("analyses:cancel", "queued_run"),
        profile(302, 302, 302, 302, 403, 403, 404),
    ),
    Case(
        "analyses:micrograph_analyse",
        "POST",
        u("analyses:micrograph_analyse", "micrograph"),
        profile(302, 302, 302, 302, 403, 302, 404),
        data={"method": "classical"},
    ),
    Case("analyses:micrograph_image", "GET", u("analyses:micrograph_image", "micrograph"), VIEW),
    Case(
        "analyses:sample_analyse",
        "POST",
        u("analyses:sample_analyse", "sample"),
        profile(302, 302, 302, 302, 403, 302, 404),
        data={"method": "classical"},
    ),
    Case("analyses:sample_stats", "GET", u("analyses:sample_stats", "sample"), VIEW),
    Case("analyses:project_compare", "GET", u("analyses:project_compare", "project"), VIEW),
    Case("analyses:plotly_js", "GET", u("analyses:plotly_js"), ANY_USER),
    Case("review:queue", "GET", u("review:queue"), ANY_USER),
    Case(
        "review:submit",
        "POST",
        u("review:submit", "run"),
        profile(302, 302, 302, 302, 403, 403, 404),
    ),
    Case(
        "review:approve",
        "POST",
        u("review:approve", "review_run"),
        profile(302, 403, 302, 302, 403, 403, 404),
        data=lambda c: {"revision": c.review_run.revision},
    ),
    Case(
        "review:request_changes",
        "POST",
        u("review:request_changes", "review_run"),
        profile(302, 403, 302, 302, 403, 403, 404),
        data={"body": "Check particle 3."},
    ),
    Case(
        "review:comment",
        "POST",
        u("review:comment", "run"),
        profile(302, 302, 302, 302, 403, 302, 404),
        data={"body": "Looks fine."},
    ),
    # --- datasets and export files ----------------------------------------------------------
    Case("datasets:list", "GET", u("datasets:list"), ANY_USER),
    Case(
        "datasets:list",
        "POST",
        u("datasets:list"),
        profile(302, 302, 302, 302, 403, 403, 403),
        data={"lab": "mori", "name": "New"},
        label="create in mori",
    ),
    Case("datasets:import", "GET", u("datasets:import"), ANY_USER),
    Case(
        "datasets:import",
        "POST",
        u("datasets:import"),
        profile(302, 400, 400, 400, 403, 403, 404),  # members: 400, no archive chosen
        data=lambda c: {"sample": c.sample.pk},
    ),
    Case("datasets:detail", "GET", u("datasets:detail", "dataset"), VIEW),
    Case(
        "datasets:runs",
        "POST",
        u("datasets:runs", "dataset"),
        profile(302, 302, 302, 302, 403, 403, 404),
        data={"add": "", "remove": ""},
    ),
    Case(
        "datasets:export",
        "POST",
        u("datasets:export", "dataset"),
        profile(302, 302, 302, 302, 302, 302, 404),
        data={"format": "coco"},
    ),
    Case("datasets:export_download", "GET", u("datasets:export_download", "export"), VIEW),
    *[
        Case(
            f"datasets:{kind}", "GET", scoped(f"datasets:{kind}", scope, *extra), VIEW, label=scope
        )
        for scope in ("run", "sample", "project")
        for kind, extra in (("particles", ("csv",)), ("summary", ()), ("report", ()))
    ],
    Case(
        "datasets:particles", "GET", scoped("datasets:particles", "run", "xlsx"), VIEW, label="xlsx"
    ),
    # --- model registry and learned styles (pages) ---------------------------------------------
    Case("mlmodels:list", "GET", u("mlmodels:list"), ANY_USER),
    Case("mlmodels:detail", "GET", u("mlmodels:detail", "model_version"), VIEW),
    Case(
        "mlmodels:detail",
        "GET",
        u("mlmodels:detail", "private_model"),
        LAB_MEMBERS,
        label="private",
    ),
    Case("mlmodels:progress", "GET", u("mlmodels:progress", "model_version"), VIEW),
    Case("mlmodels:style", "GET", u("mlmodels:style", "style"), VIEW),
    Case(
        "mlmodels:style", "GET", u("mlmodels:style", "private_style"), LAB_MEMBERS, label="private"
    ),
    Case("mlmodels:style_progress", "GET", u("mlmodels:style_progress", "style"), VIEW),
    Case("mlmodels:style_sample", "GET", u("mlmodels:style_sample", "style", "one"), VIEW),
    *posts(
        ("mlmodels:train", "dataset", START, {"epochs": "1"}),
        ("mlmodels:promote", "model_version", ADMIN_ONLY, None),
        ("mlmodels:retire", "model_version", ADMIN_ONLY, None),
        ("mlmodels:cancel", "private_model", CANCEL, None),
        ("mlmodels:learn_style", "dataset", START, {"minutes": "1"}),
        ("mlmodels:style_generate", "style", START, {"n": "1"}),
        ("mlmodels:style_cancel", "private_style", CANCEL, None),
        ("mlmodels:style_continue", "style", START, {"minutes": "1"}),
    ),
    # --- API ------------------------------------------------------------------------------------
    Case("api_schema", "GET", u("api_schema"), ANY_USER_API),
    Case("api_docs", "GET", u("api_docs"), ANY_USER),
    Case("api_token", "GET", u("api_token"), ANY_USER),
    Case("api_token", "POST", u("api_token"), ANY_USER, data={"action": "create"}),
    Case("api_labs", "GET", u("api_labs"), ANY_USER_API),
    Case("api_lab", "GET", u("api_lab", "lab"), LAB_MEMBERS_API),
    Case("api_projects", "GET", u("api_projects"), ANY_USER_API),
    Case(
        "api_projects",
        "POST",
        u("api_projects"),
        profile(403, 201, 201, 201, 400, 400, 400),
        data={"lab": "mori", "name": "P2"},
        json=True,
    ),
    Case("api_project", "GET", u("api_project", "project"), VIEW_API),
    Case("api_samples", "GET", u("api_samples"), ANY_USER_API),
    Case(
        "api_samples",
        "POST",
        u("api_samples"),
        profile(403, 201, 201, 201, 403, 403, 404),
        data=lambda c: {"project": c.project.pk, "name": "S2"},
        json=True,
    ),
    Case("api_sample", "GET", u("api_sample", "sample"), VIEW_API),
    Case("api_micrographs", "GET", u("api_micrographs"), ANY_USER_API),
    Case(
        "api_micrographs",
        "POST",
        u("api_micrographs"),
        profile(403, 201, 201, 201, 403, 403, 404),
        multipart=True,
        data=lambda c: {
            "sample": c.sample.pk,
            "file": SimpleUploadedFile("new.png", disc_png(size=(100, 80))),
        },
    ),
    Case("api_micrograph", "GET", u("api_micrograph", "micrograph"), VIEW_API),
    Case(
        "api_micrograph_analyze",
        "POST",
        u("api_micrograph_analyze", "micrograph"),
        profile(403, 202, 202, 202, 403, 202, 404),
        data={"method": "classical"},
        json=True,
    ),
    Case("api_runs", "GET", u("api_runs"), ANY_USER_API),
    Case("api_run", "GET", u("api_run", "run"), VIEW_API),
    Case("api_run_particles", "GET", u("api_run_particles", "run"), VIEW_API),
    Case(
        "api_run_particles",
        "PATCH",
        u("api_run_particles", "run"),
        profile(403, 200, 200, 200, 403, 403, 404),
        data={"indices": [1], "accepted": False},
        json=True,
    ),
    Case(
        "api_run_particles",
        "PATCH",
        u("api_run_particles", "erin_run"),
        profile(403, 200, 200, 200, 403, 200, 404),
        data={"indices": [1], "accepted": False},
        json=True,
        label="own run",
    ),
    # Manual outline edits: the accept/reject rule (members; annotators on their own runs).
    Case(
        "api_run_particles",
        "POST",
        u("api_run_particles", "run"),
        EDIT_201,
        data=lambda ctx: {"polygon": SQUARE, "revision": ctx.run.revision},
        json=True,
        label="draw",
    ),
    Case(
        "api_run_particles",
        "POST",
        u("api_run_particles", "erin_run"),
        OWN_EDIT_201,
        data=lambda ctx: {"polygon": SQUARE, "revision": ctx.erin_run.revision},
        json=True,
        label="draw own run",
    ),
    Case(
        "api_run_particles_split",
        "POST",
        u("api_run_particles_split", "run"),
        EDIT_200,
        data=lambda ctx: {"index": 3, "line": [[200, 130], [200, 190]], "revision": 0},
        json=True,
    ),
    Case(
        "api_run_particles_split",
        "POST",
        u("api_run_particles_split", "erin_run"),
        OWN_EDIT_200,
        data={"index": 3, "seeds": [[190, 160], [210, 160]], "revision": 0},
        json=True,
        label="own run",
    ),
    Case(
        "api_run_particles_merge",
        "POST",
        u("api_run_particles_merge", "near_run"),
        EDIT_200,
        data={"indices": [1, 2], "revision": 0},
        json=True,
    ),
    Case(
        "api_run_particles_wand",
        "POST",
        u("api_run_particles_wand", "run"),
        EDIT_200,
        data={"x": 200, "y": 160, "tolerance": 0.3},
        json=True,
    ),
    Case(
        "api_run_particles_wand",
        "POST",
        u("api_run_particles_wand", "erin_run"),
        OWN_EDIT_200,
        data={"x": 200, "y": 160, "tolerance": 0.3},
        json=True,
        label="own run",
    ),
    Case("api_run_particle", "GET", u("api_run_particle", "run", "one"), VIEW_API),
    Case(
        "api_run_particle",
        "PATCH",
        u("api_run_particle", "run", "one"),
        EDIT_200,
        data={"polygon": [[50, 50], [70, 50], [70, 70], [50, 70]], "revision": 0},
        json=True,
    ),
    Case(
        "api_run_particle",
        "PATCH",
        u("api_run_particle", "erin_run", "one"),
        OWN_EDIT_200,
        data={"erase": [[140, 40], [159, 40], [159, 80], [140, 80]], "revision": 0},
        json=True,
        label="own run",
    ),
    Case(
        "api_run_particle",
        "DELETE",
        u("api_run_particle", "run", "one"),
        EDIT_200,
        data={"revision": 0},
        json=True,
    ),
    Case(
        "api_run_particle",
        "PATCH",
        u("api_run_particle", "approved_run", "one"),
        profile(403, 409, 409, 409, 403, 403, 404),
        data={"polygon": [[50, 50], [70, 50], [70, 70], [50, 70]], "revision": 0},
        json=True,
        label="approved",
    ),
    Case(
        "api_run_undo",
        "POST",
        u("api_run_undo", "edited_run"),
        EDIT_200,
        data=lambda ctx: {"revision": ctx.edited_run.revision},
        json=True,
    ),
    Case(
        "api_run_redo",
        "POST",
        u("api_run_redo", "undone_run"),
        EDIT_200,
        data=lambda ctx: {"revision": ctx.undone_run.revision},
        json=True,
    ),
    Case(
        "api_run_review",
        "POST",
        u("api_run_review", "run"),
        profile(403, 200, 200, 200, 403, 403, 404),
        data={"action": "submit"},
        json=True,
    ),
    Case(
        "api_run_review",
        "POST",
        u("api_run_review", "review_run"),
        profile(403, 403, 200, 200, 403, 403, 404),
        data=lambda c: {"action": "approve", "revision": c.review_run.revision},
        json=True,
        label="approve",
    ),
    Case("api_datasets", "GET", u("api_datasets"), ANY_USER_API),
    Case(
        "api_datasets",
        "POST",
        u("api_datasets"),
        profile(403, 201, 201, 201, 400, 400, 400),
        data={"lab": "mori", "name": "D2"},
        json=True,
    ),
    Case("api_dataset", "GET", u("api_dataset", "dataset"), VIEW_API),
    Case(
        "api_dataset_import",
        "POST",
        u("api_dataset_import"),
        profile(403, 400, 400, 400, 403, 403, 404),
        multipart=True,
        data=lambda c: {"sample": c.sample.pk, "archive": SimpleUploadedFile("a.zip", b"nope")},
    ),
    Case(
        "api_dataset_runs",
        "POST",
        u("api_dataset_runs", "dataset"),
        profile(403, 200, 200, 200, 403, 403, 404),
        data={"add": []},
        json=True,
    ),
    Case("api_dataset_exports", "GET", u("api_dataset_exports", "dataset"), VIEW_API),
    Case(
        "api_dataset_exports",
        "POST",
        u("api_dataset_exports", "dataset"),
        profile(403, 202, 202, 202, 202, 202, 404),
        data={"format": "yolo"},
        json=True,
    ),
    Case("api_export", "GET", u("api_export", "export"), VIEW_API),
    Case("api_models", "GET", u("api_models"), ANY_USER_API),
    Case("api_model", "GET", u("api_model", "model_version"), VIEW_API),
    Case("api_model", "GET", u("api_model", "private_model"), LAB_MEMBERS_API, label="private"),
    Case("api_style_models", "GET", u("api_style_models"), ANY_USER_API),
    Case("api_style_model", "GET", u("api_style_model", "style"), VIEW_API),
    Case(
        "api_style_model",
        "GET",
        u("api_style_model", "private_style"),
        LAB_MEMBERS_API,
        label="private",
    ),
    *posts(
        ("api_dataset_train", "dataset", START_API, {"epochs": 1, "hours": 0.1}),
        ("api_model_promote", "model_version", ADMIN_ONLY_API, None),
        ("api_model_retire", "model_version", ADMIN_ONLY_API, None),
        ("api_model_cancel", "private_model", CANCEL_API, None),
        ("api_dataset_learn_style", "dataset", START_API, {"minutes": 1}),
        ("api_style_generate", "style", START_API, {"n": 1}),
        ("api_style_cancel", "private_style", CANCEL_API, None),
        ("api_style_continue", "style", START_API, {"minutes": 1}),
        json=True,
    ),
]

# URL prefixes outside the matrix, with the reason.
EXCLUDED_PREFIXES = {
    "admin/": "Django admin: staff only, behind its own login; no lab data for non-staff",
}


class Ctx:
    pass


@pytest.fixture(name="ctx")
def ctx_fixture(shared_project, sample, alice, bob, sam, dave, erin, carol, api_media, settings):
    """One of everything, in the Mori lab, shared with Sato (view) and Ito (annotate)."""
    c = Ctx()
    c.lab, c.project, c.sample = shared_project.lab, shared_project, sample
    c.users = {"alice": alice, "bob": bob, "sam": sam, "dave": dave, "erin": erin, "carol": carol}
    c.micrograph = make_micrograph(sample, alice)
    c.micrograph.sidecar.save("sidecar.txt", ContentFile(b"PixelWidth=2e-09\n"), save=False)
    c.micrograph.sidecar_filename = "discs.txt"
    c.micrograph.save()
    c.run = completed_run(c.micrograph, bob, method="classical")
    c.erin_run = completed_run(c.micrograph, erin, method="classical")
    c.review_run = completed_run(c.micrograph, bob, method="classical")
    c.review_run.review_state = ReviewState.IN_REVIEW
    c.review_run.save(update_fields=["review_state"])

    c.queued_run = run_create(micrograph=c.micrograph, user=bob, method="classical")
    approved = approve(completed_run(c.micrograph, alice, method="classical"), sam)
    c.approved_run = approved
    c.one = 1  # a particle index: the disc at (160, 60), first in raster order
    near = make_micrograph(sample, alice, discs=[(100, 120, 20), (143, 120, 20)], name="near.png")
    c.near_run = completed_run(near, bob, method="classical")  # two discs 2 px apart
    c.edited_run = completed_run(c.micrograph, bob, method="classical")
    particle_add(run=c.edited_run, user=bob, polygon=SQUARE, revision=0)
    c.undone_run = completed_run(c.micrograph, bob, method="classical")
    particle_add(run=c.undone_run, user=bob, polygon=SQUARE, revision=0)
    run_undo(run=c.undone_run, user=bob, revision=1)
    for run in (c.edited_run, c.undone_run):
        run.refresh_from_db()
    c.dataset = Dataset.objects.create(lab=c.lab, name="Spheres", created_by=alice)
    c.dataset.runs.add(approved)
    c.dataset_view_share = DatasetShare.objects.create(
        dataset=c.dataset, lab=dave.labs.get(), level=ShareLevel.VIEW
    )
    DatasetShare.objects.create(dataset=c.dataset, lab=erin.labs.get(), level=ShareLevel.ANNOTATE)
    c.export = DatasetExport.objects.create(
        dataset=c.dataset, format="coco", status=ExportStatus.SUCCEEDED, progress=1.0
    )
    c.export.file.save("x.zip", ContentFile(b"PK\x05\x06" + b"\0" * 18), save=True)
    # Models: one trained on the shared dataset (so the sharing labs see it), one queued on a
    # dataset of the lab's own. The shared dataset gets a second run: training holds one back.
    settings.SEMWEB_TRAIN_MIN_PARTICLES = 1
    c.dataset.runs.add(
        approve(
            completed_run(
                make_micrograph(sample, alice, name="2.png", discs=[(30, 30, 9), (90, 60, 12)]),
                alice,
                method="classical",
            ),
            sam,
        )
    )
    builtin = builtin_model()
    c.model_version = ModelVersion.objects.create(
        lab=c.lab,
        name="v1",
        parent=builtin,
        dataset=c.dataset,
        status=ModelStatus.READY,
        beats_parent=True,
    )
    private = Dataset.objects.create(lab=c.lab, name="Private", created_by=alice)
    c.private_model = ModelVersion.objects.create(
        lab=c.lab, name="v2", parent=builtin, dataset=private, status=ModelStatus.QUEUED
    )
    # Styles: a ready one learned from the shared dataset (with one sample sheet and a stored
    # checkpoint, so its training can be continued), a queued one learned from the lab's
    # private dataset.
    c.style = StyleModel.objects.create(
        lab=c.lab,
        dataset=c.dataset,
        name="style",
        status=ModelStatus.READY,
        training_data={"run_ids": [approved.pk], "images": 1},
        progress={"step": 1, "samples": [{"step": 1, "name": "styles/samples/s1.png"}]},
        weights=default_storage.save("styles/s1.pt", ContentFile(b"checkpoint")),
    )
    default_storage.save("styles/samples/s1.png", ContentFile(disc_png()))
    c.private_style = StyleModel.objects.create(
        lab=c.lab, dataset=private, name="private style", status=ModelStatus.QUEUED
    )
    c.view_share = shared_project.shares.get(lab=dave.labs.get())
    c.bob_membership = Membership.objects.get(user=bob)
    return c


class _Rollback(Exception):
    pass


def _status(client, case: Case, ctx) -> int:
    url = case.url(ctx)
    data = case.data(ctx) if callable(case.data) else case.data
    method = case.method.lower()
    if case.json:
        body = json.dumps(data or {})
        response = client.generic(case.method, url, body, content_type="application/json")
    elif case.multipart or method in ("get", "post"):
        response = getattr(client, method)(url, data or {})
    else:
        response = client.generic(case.method, url, "", content_type="application/json")
    if getattr(response, "streaming", False):
        # Consume through the client's wrapper: it closes the file without firing
        # request_finished (which would close the database connection mid-test).
        b"".join(response.streaming_content)
    return response.status_code


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_status_for_every_persona(case: Case, ctx, client):
    seen = {}
    for persona in PERSONAS:
        client.logout()
        if persona != "anonymous":
            client.force_login(ctx.users[persona])
        try:
            with transaction.atomic():
                seen[persona] = _status(client, case, ctx)
                raise _Rollback
        except _Rollback:
            pass
    assert seen == case.expect


def _routes(patterns, prefix: str = "", namespace: str | None = None):
    for p in patterns:
        if isinstance(p, URLResolver):
            ns = namespace
            if p.namespace:
                ns = f"{namespace}:{p.namespace}" if namespace else p.namespace
            yield from _routes(p.url_patterns, prefix + str(p.pattern), ns)
        elif isinstance(p, URLPattern):
            name = p.name and (f"{namespace}:{p.name}" if namespace else p.name)
            yield prefix + str(p.pattern), name


def test_every_url_is_in_the_matrix():
    classified = {case.name for case in CASES}
    missing = sorted(
        f"{name or '(unnamed)'} → /{route}"
        for route, name in _routes(get_resolver().url_patterns)
        if not any(route.startswith(prefix) for prefix in EXCLUDED_PREFIXES)
        and name not in classified
    )
    assert missing == [], "classify these URLs in CASES: " + ", ".join(missing)


def test_matrix_names_exist():
    """A renamed URL must not leave a stale case behind."""
    names = {name for _, name in _routes(get_resolver().url_patterns)}
    assert sorted({c.name for c in CASES} - names) == []
