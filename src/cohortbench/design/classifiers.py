"""The classifier registry and its search spaces (SPEC section 4).

Each classifier is a name, a factory ``random_state -> estimator`` and a
:class:`SearchSpace`. Built-ins use the libraries' defaults except where a
default cannot work or would be irreproducible:

- ``MLR_L1`` / ``MLR_ENET`` use the ``saga`` solver, the one that supports
  those penalties for multinomial loss; the penalty is spelled with
  ``l1_ratio`` (``penalty`` is deprecated since scikit-learn 1.8).
- every estimator that accepts ``random_state`` gets one (``saga`` otherwise
  draws from NumPy's global random state);
- ``n_jobs=1`` wherever the estimator has it (the runner parallelises);
- LightGBM is silenced with ``verbose=-1``.

The search spaces are tabulated in ``docs/classifiers.md``;
:func:`search_space_table` renders that table from this module.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import StudyError

__all__ = [
    "LogUniform",
    "IntUniform",
    "Categorical",
    "Param",
    "SearchSpace",
    "classifier_names",
    "make_classifier",
    "search_space",
    "register_classifier",
    "unregister_classifier",
    "user_classifiers",
    "ensure_registered",
    "search_space_table",
]


# --------------------------------------------------------------------------- distributions
@dataclass(frozen=True)
class LogUniform:
    """Log-uniform over ``[low, high]`` (``0 < low < high``)."""

    low: float
    high: float

    def __post_init__(self):
        if not 0 < self.low < self.high:
            raise ValueError(f"LogUniform needs 0 < low < high; got ({self.low}, {self.high}).")

    def contains(self, value) -> bool:
        return isinstance(value, (int, float)) and self.low <= value <= self.high


@dataclass(frozen=True)
class IntUniform:
    """Uniform over the integers ``low, low + 1, ..., high`` (both included)."""

    low: int
    high: int

    def __post_init__(self):
        if not (isinstance(self.low, int) and isinstance(self.high, int) and self.low <= self.high):
            raise ValueError(
                f"IntUniform needs integers low <= high; got ({self.low}, {self.high}).")

    def contains(self, value) -> bool:
        return isinstance(value, int) and self.low <= value <= self.high


@dataclass(frozen=True)
class Categorical:
    """Uniform over a finite tuple of values."""

    values: tuple

    def __post_init__(self):
        object.__setattr__(self, "values", tuple(self.values))
        if not self.values:
            raise ValueError("Categorical needs at least one value.")

    def contains(self, value) -> bool:
        return value in self.values


@dataclass(frozen=True)
class Param:
    """One hyperparameter: grid points and the distribution they are drawn from.

    Parameters
    ----------
    grid : tuple
        Values tried by grid search; each lies inside ``distribution``.
    distribution : LogUniform, IntUniform or Categorical
        What random and Bayesian search draw from (the same range as the grid).
    """

    grid: tuple
    distribution: LogUniform | IntUniform | Categorical

    def __post_init__(self):
        object.__setattr__(self, "grid", tuple(self.grid))
        if not self.grid:
            raise ValueError("A Param needs at least one grid value.")
        outside = [v for v in self.grid if not self.distribution.contains(v)]
        if outside:
            raise ValueError(f"Grid values {outside} lie outside {self.distribution}.")


class SearchSpace(Mapping):
    """An ordered mapping of classifier parameter name -> :class:`Param`.

    Names are the classifier's own parameter names (``C``, ``gamma``); the
    pipeline prefixes them with its step name.
    """

    def __init__(self, params: Mapping[str, Param] | None = None, **kwargs: Param):
        items = dict(params or {})
        items.update(kwargs)
        for name, param in items.items():
            if not isinstance(param, Param):
                raise TypeError(f"Search space entry {name!r} must be a Param; got {param!r}.")
        self._params = items

    def __getitem__(self, name: str) -> Param:
        return self._params[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._params)

    def __len__(self) -> int:
        return len(self._params)

    def __repr__(self) -> str:
        return f"SearchSpace({self._params!r})"

    @property
    def grid_size(self) -> int:
        """Number of grid points (1 for an empty space): every strategy's budget."""
        return math.prod(len(p.grid) for p in self._params.values())


# --------------------------------------------------------------------------- built-ins
def _log_grid(low_exp: int, high_exp: int) -> tuple[float, ...]:
    return tuple(float(10.0**e) for e in range(low_exp, high_exp + 1))


def _c_param(low_exp: int = -3, high_exp: int = 3) -> Param:
    return Param(_log_grid(low_exp, high_exp), LogUniform(10.0**low_exp, 10.0**high_exp))


_GAMMA = Param(_log_grid(-5, -1), LogUniform(1e-5, 1e-1))
_TREES = Param((50, 100, 200), IntUniform(50, 200))
_DEPTH = Param((2, 4, 8), IntUniform(2, 8))


def _knn(random_state: int):
    from sklearn.neighbors import KNeighborsClassifier

    return KNeighborsClassifier(n_jobs=1)


def _lgbm(random_state: int):
    from lightgbm import LGBMClassifier

    return LGBMClassifier(random_state=random_state, n_jobs=1, verbose=-1)


def _logistic(l1_ratio: float, solver: str):
    def factory(random_state: int):
        from sklearn.linear_model import LogisticRegression

        if solver == "lbfgs":
            return LogisticRegression(random_state=random_state)
        return LogisticRegression(solver=solver, l1_ratio=l1_ratio, random_state=random_state)

    return factory


def _mlp(random_state: int):
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(random_state=random_state)


def _svc(kernel: str):
    def factory(random_state: int):
        from sklearn.svm import SVC

        return SVC(kernel=kernel, random_state=random_state)

    return factory


def _rf(random_state: int):
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(random_state=random_state, n_jobs=1)


def _xgb(random_state: int):
    from xgboost import XGBClassifier

    # y arrives as int codes 0..K-1, which XGBoost takes as they are.
    return XGBClassifier(random_state=random_state, n_jobs=1)


_BUILTINS: dict[str, tuple[Callable[[int], Any], SearchSpace]] = {
    "KNN": (_knn, SearchSpace(
        n_neighbors=Param((1, 3, 5, 7, 9), IntUniform(1, 9)),
        weights=Param(("uniform", "distance"), Categorical(("uniform", "distance"))),
    )),
    # min_child_samples: LightGBM's default of 20 cannot split a training fold of
    # ~30 subjects at all, so the grid lets the search find smaller leaves.
    "LGBM": (_lgbm, SearchSpace(
        n_estimators=_TREES,
        max_depth=_DEPTH,
        min_child_samples=Param((2, 5, 10), IntUniform(2, 10)),
    )),
    "MLR_ENET": (_logistic(0.5, "saga"), SearchSpace(
        C=_c_param(-2, 2),
        l1_ratio=Param((0.25, 0.5, 0.75), Categorical((0.25, 0.5, 0.75))),
    )),
    "MLR_L1": (_logistic(1.0, "saga"), SearchSpace(C=_c_param())),
    "MLR_L2": (_logistic(0.0, "lbfgs"), SearchSpace(C=_c_param())),
    "MLP": (_mlp, SearchSpace(
        hidden_layer_sizes=Param(((50,), (100,), (100, 50)),
                                 Categorical(((50,), (100,), (100, 50)))),
        alpha=Param(_log_grid(-5, -2), LogUniform(1e-5, 1e-2)),
    )),
    "SVM_POLY": (_svc("poly"), SearchSpace(
        C=_c_param(-2, 2),
        degree=Param((2, 3, 4), IntUniform(2, 4)),
    )),
    "SVM_RBF": (_svc("rbf"), SearchSpace(C=_c_param(-2, 2), gamma=_GAMMA)),
    "SVM_SIG": (_svc("sigmoid"), SearchSpace(C=_c_param(-2, 2), gamma=_GAMMA)),
    "SVM_LIN": (_svc("linear"), SearchSpace(C=_c_param())),
    "RF": (_rf, SearchSpace(n_estimators=_TREES, max_depth=_DEPTH)),
    "XGB": (_xgb, SearchSpace(n_estimators=_TREES, max_depth=Param((2, 4, 6), IntUniform(2, 6)))),
}

_USER: dict[str, tuple[Callable[[int], Any], SearchSpace]] = {}


# --------------------------------------------------------------------------- public API
def classifier_names() -> tuple[str, ...]:
    """Names of every registered classifier: the 12 built-ins, then the user's."""
    return tuple(_BUILTINS) + tuple(_USER)


def _lookup(name: str) -> tuple[Callable[[int], Any], SearchSpace]:
    entry = _BUILTINS.get(name) or _USER.get(name)
    if entry is None:
        raise StudyError(
            f"Unknown classifier {name!r}: use one of {', '.join(classifier_names())} "
            "or register it with cohortbench.design.classifiers.register_classifier."
        )
    return entry


def make_classifier(name: str, random_state: int):
    """A new, unfitted estimator for ``name``.

    Parameters
    ----------
    name : str
        A registered classifier name.
    random_state : int
        Seed handed to every estimator that is random.

    Returns
    -------
    estimator
        A scikit-learn compatible classifier.
    """
    factory, _ = _lookup(name)
    return factory(random_state)


def search_space(name: str) -> SearchSpace:
    """The documented search space of classifier ``name``."""
    return _lookup(name)[1]


def register_classifier(name: str, factory: Callable[[int], Any], space: SearchSpace) -> None:
    """Make a user's estimator available by name.

    Parameters
    ----------
    name : str
        New classifier name. A built-in name cannot be replaced; registering a
        user name again replaces it.
    factory : callable
        ``factory(random_state) -> estimator`` returning a fresh, unfitted
        scikit-learn compatible classifier on every call.
    space : SearchSpace
        Hyperparameters searched by ``grid``/``random``/``bayes`` (may be empty).
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"A classifier name must be a non-empty string; got {name!r}.")
    if name in _BUILTINS:
        raise ValueError(f"{name!r} is a built-in classifier; register yours under another name.")
    if not callable(factory):
        raise TypeError(f"The factory for {name!r} must be callable; got {factory!r}.")
    if not isinstance(space, SearchSpace):
        raise TypeError(f"The search space for {name!r} must be a SearchSpace; got {space!r}.")
    _USER[name] = (factory, space)


def user_classifiers(names) -> dict:
    """The user-registered entries among ``names``: ``{name: (factory, space)}``.

    A study runs in worker processes that import cohortbench afresh, without the
    user's registrations: the runner sends these entries with the work.
    """
    return {name: _USER[name] for name in dict.fromkeys(names) if name in _USER}


def ensure_registered(entries: dict) -> None:
    """Register the :func:`user_classifiers` entries this process does not know yet."""
    for name, (factory, space) in entries.items():
        if name not in _BUILTINS and name not in _USER:
            register_classifier(name, factory, space)


def unregister_classifier(name: str) -> None:
    """Remove a user-registered classifier (built-ins cannot be removed)."""
    if name in _BUILTINS:
        raise ValueError(f"{name!r} is a built-in classifier and cannot be removed.")
    _lookup(name)
    del _USER[name]


def _format_distribution(dist) -> str:
    if isinstance(dist, LogUniform):
        return f"log-uniform [{dist.low:g}, {dist.high:g}]"
    if isinstance(dist, IntUniform):
        return f"integers {dist.low} to {dist.high}"
    return "one of " + ", ".join(_format_value(v) for v in dist.values)


def _format_value(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return repr(value)
    return str(value)


def search_space_table() -> str:
    """The built-in search spaces as a Markdown table (the one in docs/classifiers.md)."""
    lines = [
        "| classifier | parameter | grid | random / bayes draw from | grid size |",
        "|---|---|---|---|---|",
    ]
    for name, (_, space) in _BUILTINS.items():
        for i, (param_name, param) in enumerate(space.items()):
            grid = ", ".join(_format_value(v) for v in param.grid)
            size = str(space.grid_size) if i == 0 else ""
            label = name if i == 0 else ""
            lines.append(f"| {label} | `{param_name}` | {grid} | "
                         f"{_format_distribution(param.distribution)} | {size} |")
    return "\n".join(lines) + "\n"
