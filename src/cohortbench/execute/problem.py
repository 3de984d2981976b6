"""A task on a view, as arrays: what an engine evaluates."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..data.views import Task, View
from ..design.configs import content_id
from ..design.fingerprint import task_fingerprint
from ..design.plans import Subset

__all__ = ["Problem", "make_problem"]


@dataclass(frozen=True, eq=False)
class Problem:
    """Arrays for one (view, task), possibly restricted to a subset of subjects.

    Rows ``[0, n_eval)`` are the task's own subjects (each is predicted once);
    rows ``[n_eval, n)`` are hybrid-training subjects that only ever train.

    Attributes
    ----------
    X : ndarray (n, p), float64, NaN = missing (not row-scaled)
    y : ndarray (n,), int64 codes into ``classes``
    n_eval : int
    blocks : tuple of (start, stop) per map
    classes : tuple of str
        Class names **sorted**, as scikit-learn orders the classes of string
        labels (``np.unique``): every tie-break (KNN and one-vs-one votes, the
        argmax of equal scores, the sign of a binary decision function, the
        stratified fold allocation) then goes the way a plain scikit-learn
        script on the study's string labels would send it. The task's own
        order (``Task.classes``) stays the order things are shown in.
    subjects : tuple of str
    task : str
    view_fingerprint : str
    shuffle_key : str
        What seeds the label shuffles besides the study seed: the task name, or
        the task and a subset's key (a subset is shuffled among itself).
    content : dict
        What identifies the problem in an evaluation's content key: the view's and
        the task's fingerprints, plus the subset's key and subjects when restricted.
    shuffle_groups : ndarray or None
        A group (e.g. site) per row: label shuffles then stay within groups. Set to
        the sites whenever the study names a batch column; ``cv.outer:
        leave-site-out`` and the site-stratified inner folds read them too.
    side : ndarray of shape (n, n_side) or None
        The side block (covariates encoded, site code; :mod:`.side_columns`), rows as
        in ``X``. It is *not* part of ``X``: an engine appends it
        (``[X | side]``) only for a configuration whose steps use it (confounds,
        harmonize), so every other configuration sees exactly the features.
    side_layout : SideLayout or None
        Where each covariate and the site sit in ``side``.
    columns : tuple of str
        The feature names ``"<map>:<roi>"`` of the view, one per feature column
        (side columns, when a problem carries them, have none).
    """

    X: np.ndarray
    y: np.ndarray
    n_eval: int
    blocks: tuple[tuple[int, int], ...]
    classes: tuple[str, ...]
    subjects: tuple[str, ...]
    task: str
    view_fingerprint: str
    shuffle_key: str = ""
    content: dict = field(default_factory=dict)
    shuffle_groups: np.ndarray | None = None
    side: np.ndarray | None = None
    side_layout: object | None = None
    columns: tuple[str, ...] = ()

    def __post_init__(self):
        if not self.shuffle_key:
            object.__setattr__(self, "shuffle_key", self.task)

    @property
    def sites(self) -> np.ndarray | None:
        """The site of every row (None without a batch column)."""
        return self.shuffle_groups

    def features_for(self, config) -> np.ndarray:
        """``X``, with the side block appended when ``config``'s steps use it."""
        if not getattr(config, "uses_side_data", False):
            return self.X
        if self.side is None:
            raise ValueError("This configuration needs covariates or a site column "
                             "(confounds, harmonize) but the problem carries none.")
        return np.hstack([self.X, self.side])

    @property
    def eval_mask(self) -> np.ndarray:
        mask = np.zeros(len(self.y), dtype=bool)
        mask[: self.n_eval] = True
        return mask


def make_problem(view: View, task: Task, subset: Subset | None = None, side=None
                 ) -> tuple[Problem, dict[str, str]]:
    """Align a task with a view; return the problem and the task subjects left out.

    Subjects the view dropped (``drop-subjects`` policy) are left out of the task
    and returned with the reason. With ``subset``, only its subjects are kept (the
    others are not "left out": the subset chose them), and the problem's shuffles
    and content key are the subset's own.

    With ``side`` (:class:`~cohortbench.execute.side_data.SideData`: the study's
    covariates and batch column), the problem carries its side block and sites,
    shuffles within sites, and its content key names them. A subject missing one of
    these values is left out under ``drop-subjects`` and refused otherwise.
    """
    index = {s: i for i, s in enumerate(view.subjects)}
    keep = None if subset is None else set(subset.subjects)
    left_out: dict[str, str] = {}
    rows, codes, names = [], [], []
    classes = tuple(sorted(task.classes))
    code = {c: i for i, c in enumerate(classes)}
    for group_subjects, group_labels in ((task.subjects, task.labels),
                                          (task.train_only_subjects, task.train_only_labels)):
        for s, label in zip(group_subjects, group_labels):
            if keep is not None and s not in keep:
                continue
            if s not in index:
                left_out[s] = view.dropped.get(s, "not in the cohort view")
                continue
            if side is not None and side.drop_missing and side.missing(s):
                left_out[s] = f"missing {', '.join(side.missing(s))} (data.covariates/batch)"
                continue
            rows.append(index[s])
            codes.append(code[label])
            names.append(s)
        if group_subjects is task.subjects:
            n_eval = len(rows)
    content = {"view": view.fingerprint, "task": task_fingerprint(task)}
    if subset is not None:
        content["subset"] = {"key": subset.key, "subjects": content_id(sorted(subset.subjects))}
    extra = {}
    if side is not None:
        side.check_complete(names)
        block = side.for_rows(names)
        content["side"] = block.content
        extra = dict(side=block.values, side_layout=block.layout, shuffle_groups=block.sites)
    problem = Problem(
        X=np.asarray(view.X[rows], dtype=np.float64),
        y=np.asarray(codes, dtype=np.int64),
        n_eval=n_eval,
        blocks=view.block_bounds,
        classes=classes,
        subjects=tuple(names),
        task=task.name,
        view_fingerprint=view.fingerprint,
        shuffle_key=task.name if subset is None else f"{task.name}|{subset.key}",
        content=content,
        columns=tuple(view.columns),
        **extra,
    )
    return problem, left_out
