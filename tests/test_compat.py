"""Private library names are imported by cohortbench._compat only; version decisions live there."""

import ast
from pathlib import Path

import pytest

import cohortbench
from cohortbench import _compat

PACKAGE = Path(cohortbench.__file__).parent
COMPAT = PACKAGE / "_compat.py"


def _private(name: str) -> bool:
    """A single leading underscore: private by Python's convention (dunders are not)."""
    return name.startswith("_") and not name.startswith("__")


def private_imports(source: str) -> list[str]:
    """Each import of a private third-party name in ``source``, as ``line: what``.

    A name is private when a component of the module path, or the imported name,
    starts with a single underscore; imports from cohortbench itself (relative or
    absolute) are ours. ``importlib.import_module("...")`` and ``__import__("...")``
    with a literal name count as imports.
    """
    found = []
    for node in ast.walk(ast.parse(source)):
        modules: list[tuple[str, list[str]]] = []
        if isinstance(node, ast.Import):
            modules = [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            modules = [(node.module or "", [alias.name for alias in node.names])]
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            if (name in ("import_module", "__import__") and isinstance(first, ast.Constant)
                    and isinstance(first.value, str) and not first.value.startswith(".")):
                modules = [(first.value, [])]
        for module, names in modules:
            if module.split(".")[0] == "cohortbench":
                continue
            if any(_private(part) for part in module.split(".")) or any(map(_private, names)):
                found.append(f"{node.lineno}: {module}" + (f" {names}" if names else ""))
    return found


@pytest.mark.parametrize("source, expected", [
    ("from sklearn.base import _fit_context", ["1: sklearn.base ['_fit_context']"]),
    ("import sklearn.svm._libsvm as l", ["1: sklearn.svm._libsvm"]),
    ("def f():\n    from sklearn.tree._tree import Tree", ["2: sklearn.tree._tree ['Tree']"]),
    ("import importlib\nimportlib.import_module('lightgbm.basic._x')", ["2: lightgbm.basic._x"]),
    ("from ._svr_smo import svr_smo", []),                  # our own private module
    ("from cohortbench.execute.fast import _compiled", []),  # ours, absolute
    ("from sklearn.utils.validation import validate_data", []),
    ("from sklearn import __version__", []),                # a dunder is public
])
def test_the_scan_finds_private_imports(source, expected):
    assert private_imports(source) == expected


def test_no_private_library_name_is_imported_outside_the_compat_module():
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) > 50 and COMPAT in modules
    offenders = {str(path.relative_to(PACKAGE)): found for path in modules if path != COMPAT
                 for found in [private_imports(path.read_text(encoding="utf-8"))] if found}
    assert offenders == {}, "import these through cohortbench._compat"
    assert private_imports(COMPAT.read_text(encoding="utf-8"))  # the scan sees them there


def test_version_decisions_are_made_in_the_compat_module_only():
    # Reading a library's __version__, or the tested versions, is deciding on a version.
    def decides(path):
        return any((isinstance(node, ast.Attribute) and node.attr == "__version__")
                   or (isinstance(node, ast.Name) and node.id == "TESTED_VERSIONS")
                   for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))))

    assert [str(path.relative_to(PACKAGE)) for path in sorted(PACKAGE.rglob("*.py"))
            if decides(path)] == ["_compat.py"]


def test_tested_versions_include_the_installed_ones():
    # CI installs these; were one outside TESTED_VERSIONS, every record would say so.
    assert all(_compat.tested_version(package) for package in _compat.TESTED_VERSIONS)


def test_untested_versions_give_one_readable_reason(monkeypatch):
    import sklearn

    monkeypatch.setattr(sklearn, "__version__", "1.10.0")
    assert _compat.untested_reason("sklearn") == "scikit-learn 1.10.0 is not a tested version"
    assert not _compat.tested_version("sklearn")


def test_a_path_is_logged_once_and_recorded(monkeypatch, caplog):
    monkeypatch.setattr(_compat, "_SWITCHED_OFF", {})
    monkeypatch.setattr(_compat, "_LATEST", {})
    with caplog.at_level("WARNING", logger="cohortbench"):
        _compat.switch_off(_compat.SAGA_LANES, "first reason")
        _compat.switch_off(_compat.SAGA_LANES, "second reason")
    assert [r.getMessage() for r in caplog.records] == [
        ("cohortbench: fast saga lanes off (first reason); the plain estimator runs instead, "
         "with the same results.")]
    assert _compat.switched_off() == {_compat.SAGA_LANES: "first reason"}
    assert _compat.off_reason(_compat.SAGA_LANES, False) == "second reason"
    assert _compat.off_reason(_compat.SAGA_LANES, True) is None
    with pytest.raises(ValueError, match="unknown fast path"):
        _compat.switch_off("warp drive", "no")
