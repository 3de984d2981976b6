"""Small cohorts with planted effects and a nested evaluation that records importance.

Built here, not with the package's synthetic generator, so that which features carry
the effect is known exactly.
"""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits

from cohortbench.execute.activation import fold_importance
from cohortbench.execute.importance_record import ImportanceAccumulator
from cohortbench.execute.permutations import label_shuffles
from cohortbench.execute.pipelines import build_pipeline


def planted_cohort(rng, n=30, n_maps=4, n_rois=50, effect=((0, range(3)),), shift=1.0):
    """Noise features ``"m<k>:r<j>"`` plus a per-subject offset per map, two balanced classes.

    ``effect`` lists (map, ROIs) whose values are shifted by ``shift`` (in noise SDs)
    in class 1. Returns X, y, feature names and a boolean mask of the effect features.
    """
    y = rng.permutation(np.arange(n) % 2)
    X = rng.normal(size=(n, n_maps * n_rois))
    X += np.repeat(rng.normal(scale=0.5, size=(n, n_maps)), n_rois, axis=1)
    truth = np.zeros(n_maps * n_rois, dtype=bool)
    for map_index, rois in effect:
        columns = [map_index * n_rois + r for r in rois]
        truth[columns] = True
        X[np.ix_(y == 1, columns)] += shift
    names = tuple(f"m{k}:r{j}" for k in range(n_maps) for j in range(n_rois))
    return X, y, names, truth


def nested_importance(X, y, names, config, splitter, n_permutations, seed=0):
    """Outer CV of ``config`` for the real labels and shared shuffles, recording importance.

    One BLAS thread: on these tiny matrices more threads only spin (~9x the CPU time).
    """
    with threadpool_limits(limits=1):
        return _nested_importance(X, y, names, config, splitter, n_permutations, seed)


def _nested_importance(X, y, names, config, splitter, n_permutations, seed):
    labels = np.vstack([y, label_shuffles(y, n_permutations, seed, "importance-test")])
    n_folds = splitter.get_n_splits(X, y)
    acc = ImportanceAccumulator(names, ("0", "1"), len(labels), n_folds)
    for vector, labels_i in enumerate(labels):
        for fold, (train, _) in enumerate(splitter.split(X, labels_i)):
            pipeline, _ = build_pipeline(config, blocks=((0, X.shape[1]),), n_classes=2,
                                         n_features_available=X.shape[1], random_state=seed)
            pipeline.fit(X[train], labels_i[train])
            acc.add(vector, fold, fold_importance(pipeline, X[train], n_classes=2))
    return acc.record()
