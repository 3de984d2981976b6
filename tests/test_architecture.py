"""docs/architecture.md matches the code, and the layers import one way."""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
NAMED = sorted(set(re.findall(r"`(cohortbench(?:\.[a-z_]+)+)", DOC)))
# import order: execute writes through the store, so the store sits below it
LAYERS = ["data", "design", "store", "execute", "analyse", "report"]


def test_the_document_names_modules():
    assert len(NAMED) >= 30


@pytest.mark.parametrize("name", NAMED)
def test_every_module_the_document_names_imports(name):
    parts = name.split(".")
    for cut in range(len(parts), 1, -1):  # a dotted name may end in a function or class
        try:
            module = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        obj = module
        for attribute in parts[cut:]:
            obj = getattr(obj, attribute)
        return
    pytest.fail(f"docs/architecture.md names {name}, which does not import")


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ".".join(path.relative_to(ROOT / "src").with_suffix("").parts[:-1])
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                out.append(".".join(base + ([node.module] if node.module else [])))
            elif node.module:
                out.append(node.module)
        elif isinstance(node, ast.Import):
            out += [alias.name for alias in node.names]
    return [name for name in out if name.startswith("cohortbench")]


@pytest.mark.parametrize("layer", LAYERS)
def test_a_layer_never_imports_a_later_one(layer):
    later = LAYERS[LAYERS.index(layer) + 1:] + ["api", "cli"]
    for path in (ROOT / "src" / "cohortbench" / layer).rglob("*.py"):
        for name in _imports(path):
            parts = name.split(".")
            assert len(parts) < 2 or parts[1] not in later, \
                f"{path.relative_to(ROOT)} imports {name}"
    assert "cohortbench" not in {n for p in (ROOT / "src" / "cohortbench" / layer).rglob("*.py")
                                 for n in _imports(p)}, "no import of the package root"


def test_public_functions_are_not_hidden_by_subpackages_of_the_same_name():
    # `cohortbench.report` and `cohortbench.extract` are both a command of the API
    # and a subpackage; importing the subpackage first (as the report or a test
    # does) must leave the function in place, in a fresh interpreter.
    code = ("import cohortbench.report.html_report, cohortbench.extract.spec\n"
            "import cohortbench as cb, inspect\n"
            "assert inspect.isfunction(cb.report) and inspect.isfunction(cb.extract)\n"
            "from cohortbench.report import build_report\n"
            "assert inspect.isfunction(build_report)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
