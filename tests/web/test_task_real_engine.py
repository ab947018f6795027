"""The task with the real engine (analysis.pipeline, classical) on a synthetic micrograph."""

from __future__ import annotations

import hashlib
import io

from django.core.files.base import ContentFile
from PIL import Image

from analysis import ENGINE_VERSION
from analysis.synth import generate
from semweb.analyses import services, tasks
from semweb.analyses.models import RunStatus
from semweb.catalogue.models import Micrograph


def test_classical_run_of_a_synthetic_micrograph_stores_particles_and_versions(sample, bob):
    synth = generate(
        7,
        width=512,
        height=384,
        style="sem",
        n_particles=25,
        data_bar=True,
        figure_marks=False,
        jpeg=False,
    )
    buf = io.BytesIO()
    Image.fromarray(synth.image).save(buf, format="PNG")
    data = buf.getvalue()
    m = Micrograph(
        sample=sample,
        sha256=hashlib.sha256(data).hexdigest(),
        original_filename="synth.png",
        file_size=len(data),
        format="PNG",
        width=512,
        height=384,
        bit_depth=8,
    )
    m.original.save("synth.png", ContentFile(data), save=False)
    m.save()
    run = services.run_create(micrograph=m, user=bob, method="classical")
    assert tasks.run_analysis.apply(args=(run.pk,)).get() == "succeeded"
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED
    assert run.engine_version == ENGINE_VERSION
    assert run.path_taken == "classical"
    assert run.particle_count == run.particles.count() > 0
    assert {"reading", "calibrating", "segmenting", "measuring"} <= set(run.timings_ms)
    assert run.summary["count"] == run.particle_count
    assert run.analysed_region["y1"] <= 384
