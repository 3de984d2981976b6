"""Execution: splits, pipelines, searches, permutations and the evaluation engines."""

from .confounds import ConfoundRemover
from .harmonization import ComBatHarmonizer
from .reference_engine import evaluate_reference
from .row_scaling import RowScaler

__all__ = ["evaluate_reference", "RowScaler", "ConfoundRemover", "ComBatHarmonizer"]
