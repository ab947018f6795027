"""The engine must never pull in the web platform: import every module under `analysis/` (found
by walking the package, so a new module is covered the day it is added) in a fresh interpreter
and check that no Django, Celery or SEMweb module got loaded."""

import pkgutil
import subprocess
import sys
from pathlib import Path

import analysis

ROOT = Path(__file__).resolve().parents[2]
WEB = ("django", "celery", "semweb")


def _engine_modules() -> list[str]:
    found = ["analysis"]
    for info in pkgutil.walk_packages(analysis.__path__, prefix="analysis."):
        found.append(info.name)
    return found


def test_the_walk_finds_every_engine_module():
    modules = set(_engine_modules())
    on_disk = {
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in (ROOT / "analysis").rglob("*.py")
    }
    assert on_disk <= modules
    assert {"analysis.pipeline", "analysis.segment.model", "analysis.calibration.ocr"} <= modules


def test_engine_imports_no_django_celery_or_semweb():
    modules = _engine_modules()
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {WEB!r})\n"
        "print(','.join(bad))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""
