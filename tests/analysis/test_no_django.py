"""The engine must never pull in the web platform."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_engine_imports_no_django_celery_or_semweb():
    code = (
        "import sys, analysis, analysis.pipeline, analysis.cli, analysis.measure, "
        "analysis.stats, analysis.morphology, analysis.metrics, analysis.overlay, "
        "analysis.segment.classical, analysis.segment.postprocess\n"
        "web = {'django', 'celery', 'semweb'}\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in web)\n"
        "print(','.join(bad))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""
