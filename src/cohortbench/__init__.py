"""cohortbench: honest, fast benchmarking of ML pipelines for small multimodal cohorts.

The public API is loaded lazily so that ``import cohortbench`` stays cheap and a
command such as ``cohortbench validate`` does not import every engine.
"""

import sys
import types


def _installed_version() -> str:
    import importlib.metadata as md

    try:
        return md.version("cohortbench")  # one source of truth: pyproject.toml
    except md.PackageNotFoundError:  # pragma: no cover - a bare source tree
        return "unknown"


__version__ = _installed_version()

_PUBLIC = {
    "load_study": "api", "validate": "api", "run": "api", "evaluate": "api", "status": "api",
    "results": "api", "export": "api", "report": "api", "init": "api", "demo": "api",
    "compare": "api", "extract": "api",
    "PipelineConfig": "design.configs", "CVScheme": "design.configs",
    "EvaluationResult": "store.records",
    "CohortbenchError": "errors", "StudyError": "errors", "DataError": "errors", "RunError": "errors",
}

__all__ = ["__version__", *_PUBLIC]


class _Package(types.ModuleType):
    """The package module, whose public functions stay what its subpackages' imports find.

    Importing a subpackage binds its name on the package (``cohortbench.report`` the
    module), which would hide the function of the same name (``cohortbench.report``
    the command) for the rest of the process. The subpackage stays in ``sys.modules``;
    only the binding on the package is declined.
    """

    def __setattr__(self, name, value):
        if name in _PUBLIC and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name):
    if name in _PUBLIC:
        import importlib

        module = importlib.import_module(f".{_PUBLIC[name]}", __name__)
        return getattr(module, name)
    raise AttributeError(f"module 'cohortbench' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
