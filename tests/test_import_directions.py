"""The flow runs one way: every package may import the shared vocabulary (aipep_core), which imports none of ours.

A module that imports "upwards" (a platform importing the harness, the core importing a
framework) ties parts together that are meant to be replaced or moved to another host on
their own, so the allowed directions are checked on every module's import statements.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
OURS = ("aipep_core", "frameworks", "platforms", "reports", "harness", "repo_driver", "server", "run_bench", "lab")
# What each package may import of ours, besides itself.
ALLOWED = {
    "aipep_core": set(),
    "frameworks": {"aipep_core"},
    "platforms": {"aipep_core"},
    "reports": {"aipep_core"},
    "harness": {"aipep_core", "frameworks", "platforms", "reports"},
    "repo_driver": {"aipep_core", "frameworks", "platforms", "harness", "lab"},
    "server": {"aipep_core", "reports"},
    "run_bench": {"aipep_core", "harness", "lab"},
    "lab": {"aipep_core", "frameworks", "platforms", "harness"},
}


def imported_packages(path: Path) -> set[str]:
    """Top-level names of ours that a module imports, at any depth of the module (function bodies too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found.update(name.split(".")[0] for name in names if name.split(".")[0] in OURS)
    return found


def modules(package: str) -> list[Path]:
    if package == "run_bench":
        return [REPO / "run_bench.py"]
    return sorted((REPO / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_a_package_imports_only_what_lies_below_it(package):
    wrong = {
        str(path.relative_to(REPO)): sorted(imported - ALLOWED[package] - {package})
        for path in modules(package)
        if (imported := imported_packages(path)) - ALLOWED[package] - {package}
    }
    assert not wrong, f"{package} may import only {sorted(ALLOWED[package])}; found {wrong}"


def test_the_check_sees_an_upward_import(tmp_path):
    module = tmp_path / "module.py"
    module.write_text("def f():\n    from harness.cli import main\n    import platforms.host\n")
    assert imported_packages(module) == {"harness", "platforms"}
