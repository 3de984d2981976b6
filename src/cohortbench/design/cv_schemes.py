"""CV scheme strings (``loo``, ``stratified-kfold:K``, ``repeated-stratified-kfold:K:R``).

The parser is pure, so that the design layer (e.g. a learning curve's smallest size)
and the execution layer (:mod:`cohortbench.execute.splits`) read a scheme the same way.
"""

from __future__ import annotations

import re

from ..errors import StudyError

__all__ = ["parse_cv_scheme", "LEAVE_SITE_OUT"]

#: The outer scheme with one fold per site (``cv.outer: leave-site-out``).
LEAVE_SITE_OUT = "leave-site-out"

_SCHEME = re.compile(r"^(loo|stratified-kfold:(\d+)|repeated-stratified-kfold:(\d+):(\d+))$")


def parse_cv_scheme(scheme: str) -> tuple[str, int, int]:
    """Parse a CV scheme string into ``(kind, n_splits, n_repeats)``.

    ``loo`` -> ``("loo", 0, 1)``; ``stratified-kfold:K`` -> ``("stratified-kfold", K, 1)``;
    ``repeated-stratified-kfold:K:R`` -> ``("repeated-stratified-kfold", K, R)``;
    ``leave-site-out`` -> ``("leave-site-out", 0, 1)``.
    """
    if str(scheme).strip() == LEAVE_SITE_OUT:
        return LEAVE_SITE_OUT, 0, 1
    match = _SCHEME.match(str(scheme).strip())
    if match is None:
        raise StudyError(
            f"CV scheme {scheme!r} is not recognised: write loo, stratified-kfold:K "
            "or repeated-stratified-kfold:K:R (e.g. stratified-kfold:5)."
        )
    if match.group(1) == "loo":
        return "loo", 0, 1
    if match.group(2) is not None:
        kind, k, r = "stratified-kfold", int(match.group(2)), 1
    else:
        kind, k, r = "repeated-stratified-kfold", int(match.group(3)), int(match.group(4))
    if k < 2 or r < 1:
        raise StudyError(f"CV scheme {scheme!r} needs at least 2 folds and 1 repeat.")
    return kind, k, r
