"""Part A of the importance stage against truth: maps that carry the effect rank above
maps that carry none (issue 20). The synthetic generator plants the group effect in
chosen maps only (``effect_maps``) and adds maps without any effect (``n_null_maps``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

import cohortbench as cb
from cohortbench.data.synthetic import write_synthetic_cohort

EFFECT_MAPS = ["FA", "TSC"]

STAGES = [
    {"name": "refine", "classifiers": ["MLR_L2"],
     "pipeline": {"row_scaling": "standard", "column_scaling": "standard"}},
    {"name": "importance", "kind": "importance", "tasks": ["2-class"],
     "options": {"of": ["refine"], "maps": True, "regions": False}},
]


def map_accuracies_alone(directory, seed: int) -> pd.Series:
    """Accuracy of each single map alone (2-class, MLR_L2, 5-fold CV twice), by map."""
    write_synthetic_cohort(directory / "cohort", seed=seed, population_seed=seed,
                           effect_maps=EFFECT_MAPS, n_null_maps=2, effect_size=1.5,
                           n_rois=40, n_gm=20)
    study_path = directory / "cohort" / "study.yaml"
    study = yaml.safe_load(study_path.read_text(encoding="utf-8"))
    study.update(permutations=0, stages=STAGES,
                 cv=dict(study.get("cv") or {}, outer="repeated-stratified-kfold:5:2"))
    study_path.write_text(yaml.safe_dump(study, sort_keys=False), encoding="utf-8")
    outcome = cb.run(study_path, directory / "run", jobs=1, build_report=False)
    assert outcome.failed == 0, outcome
    contributions = cb.results(directory / "run")["map_contributions"]
    alone = contributions[(contributions["kind"] == "only")
                          & (contributions["level"] == "map")]
    return alone.set_index("map_or_modality")["accuracy"]


def _effect_minus_none(alone: pd.Series) -> float:
    effect = alone[alone.index.isin(EFFECT_MAPS)]
    assert len(effect) == len(EFFECT_MAPS) and len(alone) > len(effect)
    return float(effect.min() - alone[~alone.index.isin(EFFECT_MAPS)].median())


def test_fast_proxy_maps_with_the_effect_rank_above_maps_without(tmp_path):
    alone = map_accuracies_alone(tmp_path, seed=0)
    print("accuracy of each map alone:", alone.round(3).to_dict())
    ranked = alone.sort_values(ascending=False).index.tolist()
    assert set(ranked[:len(EFFECT_MAPS)]) == set(EFFECT_MAPS), alone
    assert _effect_minus_none(alone) > 0.1, alone


@pytest.mark.slow
def test_maps_with_the_effect_rank_above_maps_without_over_five_seeds(tmp_path):
    gaps = [_effect_minus_none(map_accuracies_alone(tmp_path / str(seed), seed))
            for seed in range(5)]
    print("effect-map minimum minus no-effect median, by seed:", np.round(gaps, 3))
    assert min(gaps) > 0, gaps
