"""The exact fast engine: shared transforms, one RFE path for every k, SVMs on kernels.

Public names:

- :func:`evaluate_fast` — several configurations of one problem, one
  :class:`~cohortbench.store.records.EvaluationResult` each, equal to the
  reference engine's (:func:`evaluate_fast_each` returns a failing
  configuration's exception in its place instead of raising);
  :func:`evaluate_fast_part` / :func:`merge_parts` — the same on ranges of label
  vectors (units of a study split for many workers), joined exactly.
- :func:`rfe_path` / :class:`RFEPath` — linear-SVR RFE computed once for every k.
- :class:`DotProducts`, :func:`fit_predict_svc` — SVC on precomputed kernels,
  bit-identical to ``SVC(kernel=...)``.
"""

from .fast_engine import (FAST_CLASSIFIERS, PartialEvaluation, evaluate_fast, evaluate_fast_each,
                          evaluate_fast_part, merge_parts)
from .kernel_svm import DotProducts, covers_svc, fit_predict_svc
from .rfe_path import RFEPath, rfe_path

__all__ = ["evaluate_fast", "evaluate_fast_each", "evaluate_fast_part", "merge_parts",
           "PartialEvaluation", "FAST_CLASSIFIERS", "rfe_path", "RFEPath", "DotProducts",
           "covers_svc", "fit_predict_svc"]
