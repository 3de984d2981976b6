"""Every use of a library's private names, and every decision about library versions.

The fast engine reproduces scikit-learn, XGBoost and LightGBM fits bit for bit by
calling some of their internals, and the transformers validate their parameters
with scikit-learn's own helpers. Those private names are imported here and only
here (``tests/test_compat.py`` scans the package for any other import of one), so
that a library upgrade is checked in one place. Importing this module imports
scikit-learn; XGBoost and LightGBM are imported on first use only (slow imports).

Private names imported (module: names — used by):

- ``sklearn.base``: ``_fit_context`` — :class:`~cohortbench.execute.row_scaling.RowScaler`,
  :class:`~cohortbench.execute.confounds.ConfoundRemover`,
  :class:`~cohortbench.execute.harmonization.ComBatHarmonizer` (as :data:`fit_context`);
- ``sklearn.utils._param_validation``: ``Interval``, ``StrOptions`` — the same
  transformers' ``_parameter_constraints``;
- ``sklearn.utils.validation``: ``_check_feature_names_in`` — ``ConfoundRemover``
  (as :func:`check_feature_names_in`);
- ``sklearn.svm._libsvm``: ``fit``, ``predict``, ``set_verbosity_wrap`` —
  ``execute/fast/libsvm_direct.py`` (through :func:`libsvm_fit`, :func:`libsvm_predict`);
- ``sklearn.tree._classes``: ``CRITERIA_CLF``, ``DENSE_SPLITTERS``; ``sklearn.tree._tree``:
  ``Tree``, ``DepthFirstTreeBuilder`` — ``execute/fast/forests.py`` (:func:`forest_internals`);
- ``sklearn._loss.loss``: ``HalfBinomialLoss``, ``HalfMultinomialLoss``;
  ``sklearn.linear_model._linear_loss``: ``LinearModelLoss``;
  ``sklearn.linear_model._logistic``: ``_LOGISTIC_SOLVER_CONVERGENCE_MSG``;
  ``sklearn.utils.optimize``: ``_check_optimize_result`` —
  ``execute/fast/logistic_rowspace.py`` (:func:`logistic_internals`);
- ``sklearn.linear_model._sag``: ``get_auto_step_size`` — ``execute/fast/saga_batch.py``
  (:func:`saga_step_size`);
- ``lightgbm.basic``: ``_choose_param_value``, ``_ConfigAliases`` —
  ``execute/fast/boosters.py`` (:func:`lgbm_predict_params`).

Private attributes and methods of library objects (set or called only here):

- ``RandomForestClassifier._validate_params()`` — :func:`validate_estimator_params`;
- ``XGBClassifier._Booster`` (set) — :func:`set_xgb_booster`;
- ``LGBMClassifier._n_classes`` (set), ``._process_params(stage=...)``,
  ``._process_n_jobs(...)`` — :func:`lgbm_fit_params`, :func:`lgbm_predict_params`.

Private module paths named as strings: ``sklearn.ensemble._forest``,
``xgboost.sklearn``, ``lightgbm.sklearn`` (the ``__module__`` of the three ensemble
classes, so that an estimator is recognised without importing XGBoost or LightGBM;
:data:`ENSEMBLE_CLASSES`).

Library behaviour re-implemented rather than called (checked by the tests and the
first-use self-checks, not imported): libsvm's kernels and SMO solver
(``kernel_svm``, ``_svr_smo``), ``sag64`` (``saga_batch``), ``MLPClassifier``'s Adam
loop (``mlp_batch``), the forests' random streams (``forests``).

Version decisions: :data:`TESTED_VERSIONS` lists the versions each fast path was
checked on bit for bit; on others the path switches itself off and the plain
estimator runs (slower, same results). A path also switches off when its first-use
self-check against the installed library fails. Every switch-off goes through
:func:`switch_off`, which logs one warning line per path and process; the fast
engine names the paths a configuration could take that are off in its record's
``engine`` (see :mod:`cohortbench.execute.fast.fast_engine`).
"""

from __future__ import annotations

import importlib
import inspect
import logging
import types

from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_feature_names_in

try:
    from sklearn.svm import _libsvm
except ImportError:  # pragma: no cover - depends on the installed scikit-learn
    _libsvm = None

__all__ = [
    "TESTED_VERSIONS", "tested_version", "untested_reason",
    "FAST_PATHS", "LIBSVM_BINDING", "SVR_SOLVER", "SAGA_LANES", "MLP_STACKS",
    "FOREST_BUILDER", "XGB_SHARED", "LGBM_SHARED", "ROW_SPACE",
    "switch_off", "off_reason", "switched_off", "reset_switches", "gate",
    "fit_context", "Interval", "StrOptions", "check_feature_names_in",
    "libsvm_off", "libsvm_fit", "libsvm_predict", "forest_internals", "validate_estimator_params",
    "ENSEMBLE_CLASSES", "xgboost_internals", "set_xgb_booster", "lightgbm_internals",
    "lgbm_fit_params", "lgbm_predict_params", "logistic_internals", "saga_step_size",
]

#: Library versions whose internals the fast paths were checked against (bit for bit);
#: elsewhere those paths are switched off and the plain estimators run.
TESTED_VERSIONS = {"sklearn": ("1.9.",), "xgboost": ("3.",), "lightgbm": ("4.",)}
_NAMES = {"sklearn": "scikit-learn", "xgboost": "XGBoost", "lightgbm": "LightGBM"}

fit_context = _fit_context
check_feature_names_in = _check_feature_names_in


def tested_version(package: str) -> bool:
    """Whether the installed ``package`` (a key of :data:`TESTED_VERSIONS`) was tested."""
    return untested_reason(package) is None


def untested_reason(package: str) -> str | None:
    """Why ``package`` is outside :data:`TESTED_VERSIONS` (one phrase), or None."""
    try:
        module = importlib.import_module(package)  # a fixed name from TESTED_VERSIONS
    except ImportError:
        return f"{_NAMES[package]} is not installed"
    version = str(module.__version__)
    if version.startswith(TESTED_VERSIONS[package]):
        return None
    return f"{_NAMES[package]} {version} is not a tested version"


# --------------------------------------------------------------------------- switches
LIBSVM_BINDING = "libsvm binding"
SVR_SOLVER = "SVR solver"
SAGA_LANES = "saga lanes"
MLP_STACKS = "MLP stacks"
FOREST_BUILDER = "forest builder"
XGB_SHARED = "XGBoost shared data"
LGBM_SHARED = "LightGBM shared data"
ROW_SPACE = "L2 row-space logistic regression"
#: Every fast sub-path that can switch itself off, in the order records name them.
FAST_PATHS = (LIBSVM_BINDING, SVR_SOLVER, SAGA_LANES, MLP_STACKS, FOREST_BUILDER,
              XGB_SHARED, LGBM_SHARED, ROW_SPACE)

_SWITCHED_OFF: dict[str, str] = {}   # path -> first reason (what was logged)
_LATEST: dict[str, str] = {}         # path -> latest reason
_LOG = logging.getLogger("cohortbench")


def switch_off(path: str, reason: str) -> None:
    """Record that fast ``path`` is off in this process; log it the first time.

    Parameters
    ----------
    path : str
        One of :data:`FAST_PATHS`.
    reason : str
        One phrase, e.g. ``"scikit-learn 1.10.0 is not a tested version"``.
    """
    if path not in FAST_PATHS:
        raise ValueError(f"unknown fast path {path!r}; expected one of {FAST_PATHS}.")
    _LATEST[path] = reason
    if path not in _SWITCHED_OFF:
        _SWITCHED_OFF[path] = reason
        _LOG.warning("cohortbench: fast %s off (%s); the plain estimator runs instead, "
                     "with the same results.", path, reason)


def off_reason(path: str, on: bool) -> str | None:
    """None when ``on``; else the latest reason given to :func:`switch_off` for ``path``."""
    return None if on else _LATEST.get(path, "switched off")


def switched_off() -> dict[str, str]:
    """The fast paths switched off so far in this process: path -> first reason."""
    return dict(_SWITCHED_OFF)


def reset_switches() -> None:
    """Forget what :func:`switched_off` reports (tests; the paths' checks are not reset)."""
    _SWITCHED_OFF.clear()
    _LATEST.clear()


def gate(path: str, package: str, *checks) -> str | None:
    """Why ``path`` is off here (switching it off), or None when it may run.

    Parameters
    ----------
    path : str
        One of :data:`FAST_PATHS`.
    package : str
        The library whose tested versions the path needs (a key of :data:`TESTED_VERSIONS`).
    *checks : (callable, str)
        Asked in order after the version: ``check()`` must be true, else ``reason``
        (e.g. a first-use self-check, cached by its owner).
    """
    reason = untested_reason(package)
    for check, why in checks:
        if reason is not None:
            break
        if not check():
            reason = why
    if reason is not None:
        switch_off(path, reason)
    return reason


def _load(path: str, package: str, load, moved: str):
    """``load()`` (importing a library's internals) where ``path`` may run, else None."""
    reason = untested_reason(package)
    if reason is None:
        try:
            return load()
        except ImportError:  # pragma: no cover - depends on the installed library
            reason = moved
    switch_off(path, reason)
    return None


# --------------------------------------------------------------------------- libsvm
_libsvm_broken = "sklearn.svm._libsvm is missing" if _libsvm is None else None


def libsvm_off() -> str | None:
    """Why :data:`LIBSVM_BINDING` is off here (switching it off), or None when it runs."""
    return gate(LIBSVM_BINDING, "sklearn",
                (lambda: _libsvm_broken is None, _libsvm_broken or ""))


def libsvm_fit(*args, **kwargs):
    """``sklearn.svm._libsvm.fit(*args, **kwargs)`` after muting libsvm, or None.

    None where :func:`libsvm_off` says the binding is off, or when its signature
    changed (it is then off for good in this process).
    """
    global _libsvm_broken
    if libsvm_off() is not None:
        return None
    # libsvm's printing is a C global that SVR.fit / SVC.fit reset before each fit.
    _libsvm.set_verbosity_wrap(0)
    try:
        return _libsvm.fit(*args, **kwargs)
    except TypeError:  # pragma: no cover - signature changed upstream
        _libsvm_broken = "the signature of sklearn.svm._libsvm.fit changed"
        switch_off(LIBSVM_BINDING, _libsvm_broken)
        return None


def libsvm_predict(*args, **kwargs):
    """``sklearn.svm._libsvm.predict(*args, **kwargs)`` (after a :func:`libsvm_fit`)."""
    return _libsvm.predict(*args, **kwargs)


# --------------------------------------------------------------------------- forests
def forest_internals() -> dict | None:
    """scikit-learn's tree-building classes (``cls``, ``criteria``, ``splitter``,
    ``tree``, ``builder``), or None where untested or missing (path switched off)."""
    def load():
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.tree._classes import CRITERIA_CLF, DENSE_SPLITTERS
        from sklearn.tree._tree import DepthFirstTreeBuilder, Tree

        return {"cls": RandomForestClassifier, "criteria": CRITERIA_CLF,
                "splitter": DENSE_SPLITTERS["best"], "tree": Tree,
                "builder": DepthFirstTreeBuilder}

    return _load(FOREST_BUILDER, "sklearn", load, "scikit-learn's tree internals moved")


def validate_estimator_params(estimator) -> None:
    """``estimator._validate_params()``: scikit-learn's own parameter check (raises)."""
    estimator._validate_params()


# --------------------------------------------------------------------------- boosters
#: ``(class.__module__, class.__name__)`` of the ensembles with a shared-data path.
ENSEMBLE_CLASSES = {("sklearn.ensemble._forest", "RandomForestClassifier"): "forest",
                    ("xgboost.sklearn", "XGBClassifier"): "xgb",
                    ("lightgbm.sklearn", "LGBMClassifier"): "lgbm"}


def _init_names(cls) -> set:
    return set(inspect.signature(cls.__init__).parameters) - {"self", "kwargs"}


def xgboost_internals() -> dict | None:
    """``{"module", "cls", "allowed"}`` for XGBoost, or None (path switched off)."""
    def load():
        import xgboost

        return {"module": xgboost, "cls": xgboost.XGBClassifier,
                "allowed": _init_names(xgboost.XGBModel)}

    return _load(XGB_SHARED, "xgboost", load, "XGBoost's classes moved")


def set_xgb_booster(model, booster) -> None:
    """Attach a trained booster to an XGBoost estimator, as ``XGBModel.fit`` does."""
    model._Booster = booster


def lightgbm_internals() -> dict | None:
    """``{"module", "cls", "allowed", "choose", "aliases", "record"}`` for LightGBM, or None."""
    def load():
        import lightgbm
        from lightgbm.basic import _choose_param_value, _ConfigAliases
        from lightgbm.callback import record_evaluation

        return {"module": lightgbm, "cls": lightgbm.LGBMClassifier,
                "allowed": _init_names(lightgbm.LGBMClassifier) | {"verbose"},
                "choose": _choose_param_value, "aliases": _ConfigAliases,
                "record": record_evaluation}

    return _load(LGBM_SHARED, "lightgbm", load, "LightGBM's internals moved")


def lgbm_fit_params(model, n_classes: int) -> dict:
    """The training parameters ``LGBMClassifier.fit`` derives, for ``n_classes`` classes."""
    model._n_classes = n_classes
    return model._process_params(stage="fit")


def lgbm_predict_params(model, internals: dict) -> dict:
    """The keyword arguments ``LGBMModel.predict`` hands to ``Booster.predict``."""
    params = model._process_params(stage="predict")
    for alias in internals["aliases"].get_by_alias("data", "X", "raw_score", "start_iteration",
                                                   "num_iteration", "pred_leaf",
                                                   "pred_contrib"):
        params.pop(alias, None)
    params = internals["choose"]("num_threads", params, model.n_jobs)
    params["num_threads"] = model._process_n_jobs(params["num_threads"])
    return params


# --------------------------------------------------------------------------- logistic
def logistic_internals() -> types.SimpleNamespace | None:
    """scikit-learn's logistic loss and L-BFGS helpers, or None (path switched off)."""
    def load():
        from sklearn._loss.loss import HalfBinomialLoss, HalfMultinomialLoss
        from sklearn.linear_model._linear_loss import LinearModelLoss
        from sklearn.linear_model._logistic import _LOGISTIC_SOLVER_CONVERGENCE_MSG
        from sklearn.utils.optimize import _check_optimize_result

        return types.SimpleNamespace(
            binomial=HalfBinomialLoss, multinomial=HalfMultinomialLoss,
            linear_loss=LinearModelLoss, message=_LOGISTIC_SOLVER_CONVERGENCE_MSG,
            check_result=_check_optimize_result)

    return _load(ROW_SPACE, "sklearn", load, "scikit-learn's logistic loss internals moved")


def saga_step_size(*args, **kwargs) -> float:
    """``sklearn.linear_model._sag.get_auto_step_size(*args, **kwargs)``."""
    from sklearn.linear_model._sag import get_auto_step_size

    return get_auto_step_size(*args, **kwargs)
