"""The import direction is webui -> engine, forms; engine and forms never point back up."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "engine": {
        "flask",
        "flask_login",
        "flask_wtf",
        "flask_babel",
        "wtforms",
        "webui",
        "forms",
        "click",
    },
    "forms": {
        "flask",
        "flask_login",
        "flask_wtf",
        "webui",
        "engine",
        "sqlalchemy",
        "SpiffWorkflow",
    },
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_does_not_import_upwards(package: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(_imports(path) & FORBIDDEN[package])
        for path in (ROOT / package).rglob("*.py")
        if _imports(path) & FORBIDDEN[package]
    }
    assert offenders == {}


def test_the_check_sees_imports() -> None:
    sample = ROOT / "webui" / "cli.py"
    assert "engine" in _imports(sample)
