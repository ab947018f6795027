"""`semweb/analyses/engine.py` is the one door from the platform to the engine: no other module
under `semweb/` imports `analysis`, so each measurement and statistic has one home."""

from __future__ import annotations

import ast
from pathlib import Path

SEMWEB = Path(__file__).resolve().parents[2] / "semweb"
DOOR = SEMWEB / "analyses" / "engine.py"


def _engine_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        else:
            continue
        found += [f"{path.relative_to(SEMWEB.parent)}:{node.lineno} {n}" for n in names]
    return [f for f in found if f.split()[-1].split(".")[0] == "analysis"]


def test_only_the_engine_module_imports_analysis():
    offenders = [
        hit
        for path in sorted(SEMWEB.rglob("*.py"))
        if path != DOOR
        for hit in _engine_imports(path)
    ]
    assert offenders == []


def test_the_door_itself_is_seen():
    assert _engine_imports(DOOR)  # the check above would pass vacuously if parsing found nothing
