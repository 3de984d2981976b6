"""The few exception types whose messages are written for users.

The command line turns any :class:`CohortbenchError` into one line on stderr and
exit code 2; anything else is a bug (exit code 1).
"""

__all__ = ["CohortbenchError", "StudyError", "DataError", "RunError"]


class CohortbenchError(Exception):
    """Base class: a problem the user can fix; the message says how."""


class StudyError(CohortbenchError):
    """The study file is wrong (syntax, unknown key, bad value)."""


class DataError(CohortbenchError):
    """A data file or the cohort it describes is wrong."""


class RunError(CohortbenchError):
    """A run directory cannot be used (locked, corrupted, not writable)."""
