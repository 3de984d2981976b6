"""``cohortbench extract``: region tables from quantitative NIfTI/MGZ maps and label images.

The extraction file (:mod:`.spec`) names the subjects, a path pattern per map, the
label image (one in template space, or one per subject) with its lookup table
(:mod:`.lut`), and how a region's value is computed. :func:`extract_tables` checks
every input before writing anything (:mod:`.plan`), computes per subject what the
store does not hold yet (:mod:`.regions`, :mod:`.store`), and writes one table
per map, a QC table and a ``study.yaml`` skeleton (:mod:`.qc`, :mod:`.writer`).
Nothing else in cohortbench imports this package except ``api`` and ``cli``.
"""

from .runner import ExtractOutcome, extract_tables
from .spec import ExtractionSpec, load_extraction_file

__all__ = ["ExtractOutcome", "ExtractionSpec", "extract_tables", "load_extraction_file"]
