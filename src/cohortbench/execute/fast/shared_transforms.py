"""Pipeline transforms computed once and shared by every configuration that needs them.

A configuration's features are the chain row scaling -> imputation -> column
scaling -> selection -> reduction of SPEC section 3. Each link is computed by the
very scikit-learn object the reference ``Pipeline`` uses (``fit_transform`` on the
training rows, ``transform`` on the test rows), so the matrices are the ones the
reference builds, bit for bit; they are only computed less often:

- row scaling once per view (it is per subject; checked bit-identical to scaling
  each fold's rows separately),
- imputation, column scaling and PCA-after-no-selection once per outer training
  set (label-free: LOO folds are the same for every label vector),
- ANOVA F-scores once per (training set, label vector, prefix) for every k
  (``SelectKBest``'s own ordering, ``argsort(kind="mergesort")``, kept once),
- the RFE elimination path once per (training set, label vector, prefix) for
  every k (:mod:`.rfe_path`),
- PCA / LDA after a selection once per selected matrix.

Every shared item records the warnings it raised and the seconds it took, so that
each configuration using it can report them (:class:`Item`).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import numpy as np
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.feature_selection import f_classif
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from ..scoring import IGNORED_WARNINGS, warning_text
from ..row_scaling import RowScaler
from .rfe_path import rfe_path

__all__ = ["Item", "ViewTransforms", "FoldTransforms", "LabelTransforms", "computed",
           "kbest_order", "kbest_support"]


@dataclass(eq=False)
class Item:
    """One shared result with what it cost.

    Attributes
    ----------
    value : object
        Usually ``(train_matrix, test_matrix)``.
    warnings : list of str
        ``"<Category>: <first line>"`` of each warning raised while computing it.
    seconds : float
        Wall-clock time spent computing it.
    users : set of int
        Indices of the configurations that used it (for apportioning ``seconds``).
    derived : dict
        Items computed from this one and cached with it (e.g. kernel products).
    """

    value: object
    warnings: list = field(default_factory=list)
    seconds: float = 0.0
    users: set = field(default_factory=set)
    derived: dict = field(default_factory=dict)

    def all_items(self):
        """This item and, recursively, everything derived from it."""
        yield self
        for item in self.derived.values():
            yield from item.all_items()


def computed(func, *args, **kwargs) -> Item:
    """Run ``func`` recording its warnings (as the reference engine words them) and time."""
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = func(*args, **kwargs)
    texts = []
    for w in caught:
        if issubclass(w.category, IGNORED_WARNINGS):
            continue
        texts.append(warning_text(w))
    return Item(value, texts, time.perf_counter() - start)


def _readonly(*arrays):
    for a in arrays:
        if isinstance(a, np.ndarray):
            a.flags.writeable = False
    return arrays


def _fit_transform_pair(transformer, train, test, y=None):
    """``fit_transform`` on the training rows, ``transform`` on the test rows."""
    out_train = transformer.fit_transform(train, y) if y is not None else \
        transformer.fit_transform(train)
    return _readonly(out_train, transformer.transform(test))


def kbest_order(scores: np.ndarray) -> np.ndarray:
    """The column order ``SelectKBest`` sorts by (NaN scores lowest, stable).

    As ``SelectKBest._get_support_mask``: NaN scores (constant columns) become the
    dtype's lowest value, then a stable mergesort; the top k are the last k.
    """
    scores = np.array(scores, dtype=np.float64)
    scores[np.isnan(scores)] = np.finfo(scores.dtype).min
    return np.argsort(scores, kind="mergesort")


def kbest_support(order: np.ndarray, k: int) -> np.ndarray:
    """``SelectKBest(k=k).get_support()`` from :func:`kbest_order` (``1 <= k``)."""
    mask = np.zeros(len(order), dtype=bool)
    mask[order[-k:]] = True
    return mask


class ViewTransforms:
    """Row scaling of every subject of a problem, once per method.

    Parameters
    ----------
    X : ndarray of shape (n, p)
    blocks : sequence of (start, stop)
    """

    def __init__(self, X: np.ndarray, blocks):
        self.X = X
        self.blocks = blocks
        self.items: dict[str, Item] = {}

    def row_scaled(self, method: str) -> Item:
        """All rows scaled by ``method`` (``none`` returns the input as the pipeline sees it)."""
        if method not in self.items:
            if method == "none":
                item = Item(self.X)
            else:
                item = computed(
                    lambda: _readonly(RowScaler(method, self.blocks).fit(self.X).transform(self.X))[0])
            self.items[method] = item
        return self.items[method]


class _ItemCache:
    """Items keyed by what they are, each computed on first request."""

    items: dict

    def _get(self, key, make) -> Item:
        item = self.items.get(key)
        if item is None:
            item = self.items[key] = make()
        return item


class FoldTransforms(_ItemCache):
    """Label-free transforms of one outer split, shared by all label vectors using it.

    Parameters
    ----------
    view : ViewTransforms
    train, test : ndarray of int
        Row indices of the outer split.
    """

    def __init__(self, view: ViewTransforms, train: np.ndarray, test: np.ndarray):
        self.view, self.train, self.test = view, train, test
        self.items: dict[tuple, Item] = {}

    def rows(self, row: str) -> Item:
        """Row-scaled (train, test) matrices."""
        scaled = self.view.row_scaled(row).value
        return self._get(("rows", row), lambda: computed(
            lambda: _readonly(scaled[self.train], scaled[self.test])))

    def prefix(self, row: str, imputation: str, column: str) -> Item:
        """(train, test) after row scaling, imputation and column scaling."""
        def make():
            source = self.imputed(row, imputation)
            if column == "none":
                return Item(source.value)
            scaler = StandardScaler() if column == "standard" else MinMaxScaler()
            return computed(_fit_transform_pair, scaler, *source.value)
        return self._get(("prefix", row, imputation, column), make)

    def imputed(self, row: str, imputation: str) -> Item:
        """(train, test) after row scaling and imputation."""
        def make():
            source = self.rows(row)
            if imputation == "none":
                return Item(source.value)
            return computed(_fit_transform_pair, SimpleImputer(strategy=imputation),
                            *source.value)
        return self._get(("imputed", row, imputation), make)

    def pca(self, key: tuple, source: Item) -> Item:
        """``PCA()`` of a label-free (train, test) pair, cached under ``key``."""
        return self._get(("pca",) + key, lambda: computed(_fit_transform_pair, PCA(),
                                                          *source.value))


class LabelTransforms(_ItemCache):
    """Transforms of one outer split that depend on the training labels.

    Parameters
    ----------
    fold : FoldTransforms
    y_train : ndarray of int
        The label vector's codes on ``fold.train``.
    rfe_k_min : dict
        ``(row, imputation, column) -> smallest RFE k`` any configuration needs,
        so that one path serves them all.
    """

    def __init__(self, fold: FoldTransforms, y_train: np.ndarray, rfe_k_min: dict):
        self.fold, self.y_train, self.rfe_k_min = fold, y_train, rfe_k_min
        self.items: dict[tuple, Item] = {}

    def f_order(self, prefix: tuple) -> Item:
        """``SelectKBest(f_classif)``'s column order on the prefix's training rows."""
        source = self.fold.prefix(*prefix)
        return self._get(("f_order",) + prefix, lambda: computed(
            lambda: kbest_order(np.asarray(f_classif(source.value[0], self.y_train)[0]))))

    def rfe(self, prefix: tuple) -> Item:
        """The RFE path on the prefix's training rows, down to the smallest k needed."""
        source = self.fold.prefix(*prefix)
        return self._get(("rfe",) + prefix, lambda: computed(
            rfe_path, source.value[0], self.y_train, self.rfe_k_min[prefix]))

    def selected(self, prefix: tuple, selector: str, k: int) -> tuple[Item, Item]:
        """``(ranking item, selected (train, test) item)`` for ``kbest``/``rfe`` at ``k``."""
        ranking = self.f_order(prefix) if selector == "kbest" else self.rfe(prefix)
        source = self.fold.prefix(*prefix)

        def select():
            train, test = source.value
            n_columns = train.shape[1]
            if selector == "kbest":
                if k > n_columns:  # SelectKBest's own warning (imputation dropped columns)
                    warnings.warn(f"k={k} is greater than n_features={n_columns}. "
                                  "All the features will be returned.")
                mask = kbest_support(ranking.value, k)
            else:
                if k > n_columns:  # RFE's own warning
                    warnings.warn(f"Found n_features_to_select={k} > n_features={n_columns}. "
                                  "There will be no feature selection and all features "
                                  "will be kept.", UserWarning)
                mask = ranking.value.support(k)
            return _readonly(train[:, mask], test[:, mask])
        return ranking, self._get(("selected", selector, k) + prefix,
                                  lambda: computed(select))

    def lda(self, key: tuple, source: Item) -> Item:
        """``LinearDiscriminantAnalysis()`` of a (train, test) pair, cached under ``key``."""
        return self._get(("lda",) + key, lambda: computed(
            _fit_transform_pair, LinearDiscriminantAnalysis(), *source.value, y=self.y_train))

    def pca(self, key: tuple, source: Item) -> Item:
        """``PCA()`` of a label-dependent (selected) pair, cached under ``key``."""
        return self._get(("pca",) + key, lambda: computed(_fit_transform_pair, PCA(),
                                                          *source.value))
