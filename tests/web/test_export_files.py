"""Per-run, sample and project exports: one row per accepted particle with units in the
headers (CSV and XLSX), summary JSON, and a printable report with outlines and provenance."""

from __future__ import annotations

import csv
import io
import json

import pytest
from _api import api_media_fixture, approved_run  # noqa: F401
from _runs import completed_run, make_micrograph
from openpyxl import load_workbook

from semweb.datasets.exports import header_for


@pytest.fixture
def run(sample, alice, sam, api_media):
    run = approved_run(sample, alice)
    run.approved_by = sam
    run.save(update_fields=["approved_by"])
    run.particles.filter(index=2).update(accepted=False)
    return run


def _csv(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_units_are_in_the_headers():
    assert header_for("feret_max_nm") == "feret max (nm)"
    assert header_for("area_nm2") == "area (nm²)"
    assert header_for("aspect_ratio") == "aspect ratio"


def test_run_csv_has_one_row_per_accepted_particle(client, bob, run):
    client.force_login(bob)
    response = client.get(f"/datasets/run/{run.pk}/particles.csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = _csv(response)
    assert [int(r["particle"]) for r in rows] == [1, 3, 4]
    assert {"ECD (nm)", "area (px²)", "feret max (nm)", "pixel size (nm/px)"} <= set(rows[0])
    assert float(rows[0]["pixel size (nm/px)"]) == 2.0


def test_sample_xlsx_matches_the_csv(client, bob, run, sample, alice):
    completed_run(make_micrograph(sample, alice, name="b.png", discs=[(50, 50, 12)]), alice)
    client.force_login(bob)
    csv_rows = _csv(client.get(f"/datasets/sample/{sample.pk}/particles.csv"))
    book = load_workbook(
        io.BytesIO(client.get(f"/datasets/sample/{sample.pk}/particles.xlsx").content)
    )
    sheet = list(book["particles"].iter_rows(values_only=True))
    assert len(sheet) - 1 == len(csv_rows) == 4  # 3 accepted of the approved run + 1 unreviewed
    assert list(sheet[0]) == list(csv_rows[0])
    summary = dict(book["summary"].iter_rows(min_row=2, values_only=True))
    assert summary["count"] == 4


def test_project_summary_json_names_reviewer_and_calibration(client, bob, run, project):
    client.force_login(bob)
    document = json.loads(client.get(f"/datasets/project/{project.pk}/summary.json").content)
    assert document["accepted_particles"] == 3
    assert document["ecd_nm"]["count"] == 3
    (entry,) = document["runs"]
    assert (entry["id"], entry["approved_by"], entry["calibration_source"]) == (
        run.pk,
        "sam",
        "manual",
    )


def test_report_has_outlines_histogram_and_provenance(client, dave, run, shared_project):
    client.force_login(dave)  # view-shared labs may export
    body = client.get(f"/datasets/run/{run.pk}/report/").content.decode()
    assert body.count("<polygon ") == 3
    assert 'aria-label="ECD histogram"' in body
    assert "fake-1" in body and "sam" in body and "manual" in body


def test_spreadsheet_formulas_in_names_are_neutralised(client, bob, run):
    run.micrograph.original_filename = '=HYPERLINK("http://x")'
    run.micrograph.save(update_fields=["original_filename"])
    client.force_login(bob)
    rows = _csv(client.get(f"/datasets/run/{run.pk}/particles.csv"))
    assert rows[0]["micrograph"].startswith("'=")
