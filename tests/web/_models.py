"""Helpers for model-registry tests: a tiny approved dataset of disc micrographs.

Images are 128 × 128 px with five discs each, so a real 1-epoch fine-tuning at 128 px input
takes seconds on a CPU.
"""

from __future__ import annotations

from _api import approve
from _runs import completed_run, make_micrograph

from semweb.datasets.models import Dataset
from semweb.mlmodels.models import ModelStatus, ModelVersion

TINY_PX = (128, 128)


def tiny_discs(i: int) -> list[tuple[int, int, int]]:
    """Five separate discs, placed differently per image (radius 7–12 px)."""
    shift = (i * 7) % 20
    return [
        (22 + shift, 24, 8),
        (70, 20 + shift, 10),
        (100 - shift // 2, 70, 12),
        (30, 80 + shift // 2, 9),
        (68, 104, 7),
    ]


def tiny_dataset(
    lab, sample, user, *, images: int = 4, name: str = "Tiny discs", first: int = 0
) -> Dataset:
    """A dataset of `images` approved runs (five particles each) in `lab`; images `first`,
    `first + 1`, … of the 20 distinct layouts (a sample stores the same bytes once)."""
    dataset = Dataset.objects.create(lab=lab, name=name, created_by=user)
    for i in range(first, first + images):
        micrograph = make_micrograph(
            sample, user, discs=tiny_discs(i), size=TINY_PX, name=f"tiny-{i}.png"
        )
        dataset.runs.add(approve(completed_run(micrograph, user, method="classical"), user))
    return dataset


def ready_version(lab, parent, *, beats: bool | None = True, name="v") -> ModelVersion:
    """A registry entry as a finished training leaves it (weights not needed by services)."""
    return ModelVersion.objects.create(
        lab=lab,
        name=name,
        parent=parent,
        status=ModelStatus.READY,
        beats_parent=beats,
        metrics={"candidate": {"pq": 0.5 if beats else 0.1}, "parent": {"pq": 0.3}},
    )
