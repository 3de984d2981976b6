"""Data layer: read and validate the cohort, derive labels and tasks, the synthetic cohort."""

from cohortbench.data.cohort import MISSING_POLICIES, Cohort
from cohortbench.data.loading import MapFile, load_cohort
from cohortbench.data.labels import build_tasks, derive_labels, evaluate_expression
from cohortbench.data.synthetic import (
    SyntheticCohort,
    SyntheticPopulation,
    make_synthetic_cohort,
    make_synthetic_population,
    write_synthetic_cohort,
)
from cohortbench.data.tables import read_table, to_numeric_block
from cohortbench.data.views import Block, Task, View

__all__ = [
    "Block",
    "Cohort",
    "MISSING_POLICIES",
    "MapFile",
    "SyntheticCohort",
    "SyntheticPopulation",
    "Task",
    "View",
    "build_tasks",
    "derive_labels",
    "evaluate_expression",
    "load_cohort",
    "make_synthetic_cohort",
    "make_synthetic_population",
    "read_table",
    "to_numeric_block",
    "write_synthetic_cohort",
]
