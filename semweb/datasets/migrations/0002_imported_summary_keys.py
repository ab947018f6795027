"""Imported runs stored their own key names (summary ``mean_nm``, ``sd_nm``, ``d10_nm`` …,
particle ``area_px2``); the engine's are ``mean``, ``sd``, ``d10`` … and ``area_px``. Rename
them so every run reads the same. Keys without an engine twin (``bbox_width_px`` …) stay."""

from django.db import migrations

SUMMARY_KEYS = {
    "mean_nm": "mean",
    "sd_nm": "sd",
    "d10_nm": "d10",
    "d50_nm": "d50",
    "d90_nm": "d90",
}
MEASUREMENT_KEYS = {"area_px2": "area_px"}
BATCH = 1000


def _renamed(values: dict, mapping: dict) -> dict:
    return {mapping.get(k, k): v for k, v in values.items()}


def _rename(apps, summary_keys: dict, measurement_keys: dict, unit: str | None) -> None:
    AnalysisRun = apps.get_model("analyses", "AnalysisRun")
    Particle = apps.get_model("analyses", "Particle")
    runs = AnalysisRun.objects.filter(path_taken="imported")
    for run in runs.only("id", "summary").iterator():
        summary = run.summary or {}
        if set(summary) & set(summary_keys):
            run.summary = _renamed(summary, summary_keys)
            if unit is None:
                run.summary.pop("unit", None)
            else:
                run.summary.setdefault("unit", unit)
            run.save(update_fields=["summary"])
    batch = []
    particles = Particle.objects.filter(run__path_taken="imported").only("id", "measurements")
    for particle in particles.iterator(chunk_size=BATCH):
        if set(particle.measurements or {}) & set(measurement_keys):
            particle.measurements = _renamed(particle.measurements, measurement_keys)
            batch.append(particle)
        if len(batch) >= BATCH:
            Particle.objects.bulk_update(batch, ["measurements"])
            batch = []
    Particle.objects.bulk_update(batch, ["measurements"])


def forwards(apps, schema_editor):
    _rename(apps, SUMMARY_KEYS, MEASUREMENT_KEYS, unit="nm")


def backwards(apps, schema_editor):
    inverse_summary = {v: k for k, v in SUMMARY_KEYS.items()}
    inverse_measurements = {v: k for k, v in MEASUREMENT_KEYS.items()}
    _rename(apps, inverse_summary, inverse_measurements, unit=None)


class Migration(migrations.Migration):
    dependencies = [
        ("datasets", "0001_initial"),
        ("analyses", "0001_initial"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
