"""The time estimate's arithmetic, its assumptions, and the progress display's ETA.

No assertion here depends on how fast this machine is: probes are replaced by
fixed times where numbers are checked, and real probes are only checked for what
they do (nothing written, the same structure twice).
"""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import numpy as np
import pytest

from cohortbench.design.configs import CVScheme, PipelineConfig
from cohortbench.design.loaded_study import load_study
from cohortbench.design.stages import PlannedEvaluation
from cohortbench.execute import cost_probe, estimate
from cohortbench.execute.cost_probe import ProbeTimes, probe_problem, representatives
from cohortbench.execute.estimate import _makespan, _price, estimate_study
from cohortbench.execute.progress import PlainProgress, Progress, StageClock
from cohortbench.execute.runner import prepare_problems, run_study

from .conftest import make_synthetic_problem


def _planned(config, task="toy", stage="s", position=0):
    return PlannedEvaluation(stage=stage, stage_index=0, position=position, task=task,
                             modalities=("m",), parcellation="all", config=config)


def _cfg(selection="none", k=None, row="standard", column="standard", clf="MLR_L2", search="none",
         reduction="none"):
    return PipelineConfig(classifier=clf, row_scaling=row, column_scaling=column,
                          feature_selection=selection, n_features=k, dim_reduction=reduction,
                          search=search)


# --- the cost model's arithmetic ----------------------------------------------------------

def test_an_rfe_path_is_charged_once_per_scaling_prefix_and_split_among_its_users():
    problem = make_synthetic_problem(class_sizes=(2, 2))  # LOO: 4 folds
    cv = CVScheme(outer="loo", permutations=1)  # 2 label vectors -> 8 (fold, vector) pairs
    plain, kbest = _cfg(), _cfg("kbest", 5)
    rfe5, rfe10 = _cfg("rfe", 5), _cfg("rfe", 10)
    rfe_minmax = _cfg("rfe", 5, row="minmax")
    raw = _cfg("rfe", 5, row="none", column="none")
    todo = [_planned(c, position=i)
            for i, c in enumerate([plain, kbest, rfe5, rfe10, rfe_minmax, raw])]
    reps = representatives([p.config for p in todo])
    # one representative per stratum; RFE's is the smallest k (the path runs down to it)
    assert list(reps.values()) == [plain, kbest, rfe5, raw]
    # per (fold x label vector): no selection 1 s, SelectKBest k=5 2 s (an RFE configuration's
    # classifier fit is its SelectKBest twin's); one path 5 s scaled, 40 s on unscaled values
    times = {plain: (0.0, 1.0), kbest: (0.0, 2.0),
             _cfg("kbest", 5, row="none", column="none"): (0.0, 3.0)}
    costs = _price(todo, problem, cv, times, {"scaled": 5.0, "unscaled": 40.0})
    pairs = 4 * 2
    by = {k[4]: v for k, v in costs.items()}
    assert by[plain] == pytest.approx(pairs * 1.0)
    assert by[kbest] == pytest.approx(pairs * 2.0)
    # standard/standard: one path shared by two RFE configurations
    assert by[rfe5] == pytest.approx(pairs * (2.0 + 5.0 / 2))
    assert by[rfe10] == pytest.approx(pairs * (2.0 + 5.0 / 2))
    # minmax/standard: its own path, one user
    assert by[rfe_minmax] == pytest.approx(pairs * (2.0 + 5.0))
    assert by[raw] == pytest.approx(pairs * (3.0 + 40.0))
    # in all: every fit once, and one path per prefix (three prefixes)
    assert sum(costs.values()) == pytest.approx(pairs * (1 + 2 + 2 + 2 + 2 + 3 + 5 + 5 + 40))


def test_label_free_work_is_paid_once_per_split_with_leave_one_out():
    problem = make_synthetic_problem(class_sizes=(6, 6))  # 12 LOO splits
    cv = CVScheme(outer="loo", permutations=4)  # 5 label vectors share each split
    todo = [_planned(_cfg())]
    times = {_cfg(): (3.0, 0.5)}  # 3 s of label-free work per split, 0.5 s per pair
    (cost,) = _price(todo, problem, cv, times, {}).values()
    assert cost == pytest.approx(12 * 3.0 + 12 * 5 * 0.5)
    # a unit split into 3 label-vector parts (several workers) pays it in each part
    (cost,) = _price(todo, problem, cv, times, {}, parts={estimate._key(todo[0]): 3}).values()
    assert cost == pytest.approx(3 * 12 * 3.0 + 12 * 5 * 0.5)


def test_k_fold_outer_cv_counts_k_times_repeats_folds_each_with_its_own_splits():
    problem = make_synthetic_problem(class_sizes=(6, 6))
    cv = CVScheme(outer="repeated-stratified-kfold:3:2", permutations=4)
    todo = [_planned(_cfg())]
    # stratified folds follow the (shuffled) labels: no split is shared
    (cost,) = _price(todo, problem, cv, {_cfg(): (3.0, 0.5)}, {}).values()
    assert cost == pytest.approx(3 * 2 * (1 + 4) * (3.0 + 0.5))


def test_unscaled_and_scaled_configurations_are_separate_strata():
    raw, scaled = _cfg("rfe", 10, row="none", column="none"), _cfg("rfe", 10)
    assert cost_probe.stratum(raw) != cost_probe.stratum(scaled)
    # row scaling alone, or column scaling alone, counts as scaled
    assert cost_probe.stratum(_cfg(row="none")) == cost_probe.stratum(_cfg(column="none"))


def test_makespan_is_list_scheduling_in_order():
    # 5 and 3 start; the next 3 goes to the worker free at 3 (-> 6); the 1 to the one free at 5
    assert _makespan([5, 3, 3, 1], 2) == 6
    assert _makespan([5, 3, 3, 1], 1) == 12
    assert _makespan([5, 3, 3, 1], 8) == 5  # the slowest unit bounds the wall time


def test_probe_problem_trains_each_fold_on_as_many_rows_as_the_real_split():
    problem = make_synthetic_problem(class_sizes=(5, 5, 5), n_train_only=2)
    for outer, train_rows in (("loo", 15 + 2 - 1), ("stratified-kfold:5", 12 + 2 + 1)):
        probe = probe_problem(problem, CVScheme(outer=outer))
        assert probe.n_eval == 2
        # leave-one-out over the two evaluated rows: each fold trains on the rest
        assert len(probe.y) - 1 == train_rows
        # the train-only rows stay train-only, with their labels
        assert probe.subjects[-2:] == problem.subjects[-2:]
        assert np.array_equal(probe.y[-2:], problem.y[-2:])


# --- whole studies, with fixed probe times ------------------------------------------------

class NoWorkerProbe:
    """Stands for :class:`~cohortbench.execute.cost_probe.WorkerProbe`: nothing measured."""

    def result(self):
        return 0.0, None


def _fixed_times(monkeypatch, seconds_of):
    """Replace the probes by ``seconds_of(config)`` per (fold x label vector)."""
    def fake(problem, configs, cv, engine, n_vectors=cost_probe.PROBE_VECTORS):
        return ProbeTimes({c: (0.0, seconds_of(c)) for c in configs}, len(configs) * 4, 0.0, 0.0)

    monkeypatch.setattr(cost_probe, "time_probe", fake)
    monkeypatch.setattr(cost_probe, "warm_up", lambda *a, **k: 0.0)
    monkeypatch.setattr(estimate, "WorkerProbe", NoWorkerProbe)
    monkeypatch.setattr(cost_probe, "time_rfe_path", lambda *a: (30.0, 30.0))


def _study_with(tmp_path, rule: str, permutations: int = 2, tune: str = "[SVM_LIN]"):
    """The tiny study (tests/conftest.py) with another shortlist rule and tune classifiers."""
    from tests.conftest import write_tiny_study

    path = write_tiny_study(tmp_path / "cohort", permutations=permutations)
    text = path.read_text(encoding="utf-8")
    text = text.replace("shortlist: {keep: [SVM_LIN, KNN]}", f"shortlist: {rule}")
    text = text.replace("classifiers: [SVM_LIN]\n    pipeline: best",
                        f"classifiers: {tune}\n    pipeline: best")
    path.write_text(text, encoding="utf-8")
    study = load_study(path)
    return study, prepare_problems(study)[0]


def test_shortlist_stages_assume_every_classifier_passes_and_say_so(tmp_path, monkeypatch):
    _fixed_times(monkeypatch, lambda c: 1.0)
    study, problems = _study_with(tmp_path, "{min_accuracy: 0.6}")
    est = estimate_study(study, problems, workers=1)
    screen, refine, tune, _ = est.stages
    assert screen.assumption is None and screen.n_evaluations == 3 * 2
    # refine: 4 pipelines x 3 screened classifiers x 2 tasks, an upper bound
    assert refine.n_evaluations == 4 * 3 * 2 and refine.n_classifiers == 3
    assert "all 3 classifiers of stage 'screen' are shortlisted" in refine.assumption
    assert "`pipeline: best` taken as row scaling standard, column scaling standard, no " \
           "selection, no reduction" in tune.assumption
    assert est.upper_bound
    lines = est.lines()
    assert any(line.strip().startswith("stage refine: 8 evaluations and about") and
               "per shortlisted classifier (up to 24 evaluations" in line for line in lines)
    assert lines[-1].strip().startswith("total: up to")


def test_a_keep_list_is_exact(tmp_path, monkeypatch):
    _fixed_times(monkeypatch, lambda c: 1.0)
    study, problems = _study_with(tmp_path, "{keep: [KNN]}")
    est = estimate_study(study, problems, workers=1)
    refine = est.stages[1]
    assert refine.assumption is None and refine.n_evaluations == 4 * 1 * 2
    assert {k[4].classifier for k in est.evaluation_seconds if k[0] == "refine"} == {"KNN"}


def test_workers_share_the_time_and_costs_add_up(tmp_path, monkeypatch):
    _fixed_times(monkeypatch, lambda c: 0.01)
    study, problems = _study_with(tmp_path, "{keep: [KNN, MLR_L2]}")
    monkeypatch.setattr(estimate, "_cores", lambda: 2)
    one = estimate_study(study, problems, workers=1)
    two = estimate_study(study, problems, workers=2)
    four = estimate_study(study, problems, workers=4)
    for a, b, c in zip(one.stages, two.stages, four.stages):
        assert a.cpu_seconds == pytest.approx(b.cpu_seconds)
        assert a.seconds == pytest.approx(a.cpu_seconds)  # one worker: everything in turn
        assert a.cpu_seconds / 2 - 1e-9 <= b.seconds <= a.cpu_seconds + 1e-9
        # four workers cannot beat the two cores
        assert c.seconds >= c.cpu_seconds / 2 * (1 - 1e-9)
    # the expected costs the progress display gets add up to each stage's wall time
    for stage in two.stages:
        total = sum(v for k, v in two.evaluation_seconds.items() if k[0] == stage.name)
        assert total == pytest.approx(stage.seconds)


def test_dominant_cost_is_named(tmp_path, monkeypatch):
    _fixed_times(monkeypatch, lambda c: 9.0 if c.classifier == "KNN" else 1.0)
    study, problems = _study_with(tmp_path, "{keep: [KNN, MLR_L2]}")
    est = estimate_study(study, problems, workers=1)
    assert est.stages[0].dominant == "KNN: ~82 % of the time"  # 9 / (9 + 1 + 1)
    assert est.stages[2].dominant is None  # one kind only


def test_done_evaluations_are_counted_not_priced(tmp_path, monkeypatch):
    _fixed_times(monkeypatch, lambda c: 1.0)
    study, problems = _study_with(tmp_path, "{keep: [KNN]}")
    est = estimate_study(study, problems, done=lambda p: p.stage == "screen")
    assert est.stages[0].n_evaluations == 0 and est.stages[0].already_done == 6
    assert est.stages[0].seconds == 0
    assert "nothing left to compute (6 already done)" in est.lines()[1]


# --- real probes: what they do, not how fast ----------------------------------------------

def _files(root: Path) -> set:
    return {(p, p.stat().st_mtime_ns) for p in root.rglob("*")}


def test_probing_writes_nothing_and_is_deterministic_in_structure(tmp_path, monkeypatch):
    study, problems = _study_with(tmp_path, "{keep: [KNN]}",
                                  permutations=1)
    monkeypatch.chdir(tmp_path)
    before = _files(tmp_path)
    probed = []
    real = cost_probe.time_probe

    def spy(problem, configs, cv, engine, **kw):
        probed.append((problem.task, tuple(configs), kw["n_vectors"]))
        return real(problem, configs, cv, engine, **kw)

    monkeypatch.setattr(cost_probe, "time_probe", spy)
    first = estimate_study(study, problems, workers=1)
    plan = list(probed)
    probed.clear()
    second = estimate_study(study, problems, workers=1)
    assert _files(tmp_path) == before
    assert probed == plan  # the same configurations, problems and vectors probed
    strip = [dataclasses.replace(s, seconds=0, cpu_seconds=0, dominant=None) for s in first.stages]
    assert strip == [dataclasses.replace(s, seconds=0, cpu_seconds=0, dominant=None)
                     for s in second.stages]
    assert first.n_probe_fits == second.n_probe_fits > 0
    assert set(first.evaluation_seconds) == set(second.evaluation_seconds)
    assert all(v > 0 for v in first.evaluation_seconds.values())


# --- the progress display's ETA -----------------------------------------------------------

class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_stage_clock_scales_the_remaining_cost_by_what_was_observed():
    clock = FakeClock()
    eta = StageClock(100.0, clock, prior=0.1)  # the model's ratio weighs as 10 s observed
    assert eta.seconds_left() == 100.0
    clock.now += 4
    assert eta.seconds_left() == 96.0  # counts down between results
    # 30 s of expected work finished after 60 s: ratio (60 + 10) / (30 + 10) = 1.75
    clock.now = 160.0
    eta.advance(30.0)
    assert eta.seconds_left() == pytest.approx(70 * 1.75)
    clock.now += 10
    assert eta.seconds_left() == pytest.approx(70 * 1.75 - 10)
    # a cheap remainder: 95 of 100 expected seconds done after 190 s -> 5 x (200 / 105)
    clock.now = 290.0
    eta.advance(65.0)
    assert eta.seconds_left() == pytest.approx(5 * 200 / 105)


def test_plain_progress_uses_the_expected_costs_not_the_count():
    clock, out = FakeClock(), io.StringIO()
    progress = PlainProgress(stream=out, every=0, clock=clock)
    # nine cheap evaluations (1 s each) and one costly one (81 s) are expected
    progress.start_stage("refine", 10, 0, expected=90.0)
    for _ in range(9):
        clock.now += 1
        progress.advance(expected=1.0)
    last = out.getvalue().strip().splitlines()[-1]
    # the count would say 9 s x 1/9 = 1 s left; the model: 81 x (9 + 9) / (9 + 9) = 81 s
    assert last == "[refine] 9/10 evaluations, about 81 s left"
    # long remainders read in minutes or hours
    progress.start_stage("tune", 2, 0, expected=7200.0)
    assert out.getvalue().strip().splitlines()[-1] == "[tune] 0/2 evaluations, about 2.0 h left"


def test_plain_progress_without_costs_keeps_the_count_based_rate():
    clock, out = FakeClock(), io.StringIO()
    progress = PlainProgress(stream=out, every=0, clock=clock)
    progress.start_stage("screen", 4, 0)
    clock.now += 6
    progress.advance()
    assert out.getvalue().strip().splitlines()[-1] == "[screen] 1/4 evaluations, about 18 s left"


class Recording(Progress):
    def __init__(self):
        self.calls = []

    def start_stage(self, stage, total, done, expected=None):
        self.calls.append(("start", stage, total - done, expected))

    def advance(self, n=1, expected=None):
        self.calls.append(("advance", n, expected))


def test_the_runner_hands_each_evaluations_expected_cost_to_the_progress(tmp_path):
    study, _ = _study_with(tmp_path, "{keep: [KNN]}",
                           permutations=0)
    progress = Recording()
    cost = {"screen": 1.0, "refine": 2.0, "tune": 4.0, "enrich": 8.0}
    run_study(study, tmp_path / "run", progress=progress, engine="fast",
              expected_cost=lambda p: cost[p.stage])
    starts = [c for c in progress.calls if c[0] == "start"]
    for _, stage, todo, expected in starts:
        assert expected == pytest.approx(todo * cost[stage])
    stage = None
    for call in progress.calls:
        if call[0] == "start":
            stage = call[1]
        else:
            assert call == ("advance", 1, cost[stage])


def test_a_search_is_priced_from_its_default_fit_by_candidates_and_inner_folds():
    cv = CVScheme(inner="stratified-kfold:5")
    # SVM_LIN's grid has 7 points; per outer pair: 4 x the label-free work of an inner
    # fold, 7 candidates x 5 inner fits on 4/5 of the rows (= 7 x 4 default fits), one refit
    split, pair = cost_probe.search_from_default(_cfg(clf="SVM_LIN", search="grid"), (1.0, 2.0), cv)
    assert split == 1.0
    assert pair == pytest.approx(4 * 1.0 + (7 * 4 + 1) * 2.0)


def test_an_assumed_shortlist_is_not_tuned_while_estimating(tmp_path, monkeypatch):
    _fixed_times(monkeypatch, lambda c: 1.0)
    probed = []
    fake = cost_probe.time_probe

    def spy(problem, configs, cv, engine, n_vectors=1):
        probed.extend(configs)
        return fake(problem, configs, cv, engine, n_vectors)

    monkeypatch.setattr(cost_probe, "time_probe", spy)
    study, problems = _study_with(tmp_path, "{min_accuracy: 0.6}", tune="shortlist")
    tune = estimate_study(study, problems).stages[2]
    assert tune.n_classifiers == 3 and "searches priced as candidates x inner folds" in tune.assumption
    assert all(c.search == "none" for c in probed)
    # a search whose classifiers are known is timed as it is
    probed.clear()
    study, problems = _study_with(tmp_path / "known", "{keep: [KNN]}")
    estimate_study(study, problems)
    assert any(c.search == "grid" for c in probed)


def test_validate_returns_the_estimate_and_prints_it(tmp_path):
    import cohortbench as cb
    from cohortbench.api import summary_lines
    from tests.conftest import write_tiny_study

    study = write_tiny_study(tmp_path / "cohort", permutations=1)
    _, summary = cb.validate(study, jobs=2)
    est = summary["estimate"]
    assert est.workers == 2 and [s.name for s in est.stages] == ["screen", "refine", "tune", "enrich"]
    lines = summary_lines(summary)
    start = next(i for i, line in enumerate(lines) if line.startswith("time estimate for 2 workers"))
    assert "timed" in lines[start] and "which took" in lines[start]
    assert lines[start + 1].strip().startswith("stage screen: 6 evaluations, about")
    assert lines[-1].strip().startswith(("total: about", "total: up to"))
    _, summary = cb.validate(study, estimate=False)
    assert "estimate" not in summary


def test_the_template_says_how_long_it_takes_and_how_to_start_smaller():
    from cohortbench.data.synthetic import STUDY_TEMPLATE

    head = STUDY_TEMPLATE.template[: STUDY_TEMPLATE.template.index("name:")]
    assert "about 5 hours" in head and "on 2 cores" in head
    assert "cohortbench demo --quick" in head and "cohortbench validate" in head


def test_an_evaluation_an_earlier_stage_computes_is_counted_not_priced(tmp_path, monkeypatch):
    _fixed_times(monkeypatch, lambda c: 1.0)
    study, problems = _study_with(tmp_path, "{keep: [KNN]}")
    refine = estimate_study(study, problems).stages[1]
    # refine's standard/standard/none/none KNN is the screen's KNN, on both tasks
    assert refine.n_evaluations == 8 and refine.reused == 2
    assert {k[4].row_scaling for k in estimate_study(study, problems).evaluation_seconds
            if k[0] == "refine" and k[4].feature_selection == "none"} == {"none"}


def test_other_work_on_the_machine_is_read_from_the_probes_share_of_a_core():
    # fair sharing of 2 cores with L others leaves one process 2 / (L + 1) of a core
    assert estimate._other_work(1.0, 2) == 0.0        # a core was free: read as idle
    assert estimate._other_work(1.5, 2) == pytest.approx(2.0)   # 2 / 3 of a core
    assert estimate._other_work(3.0, 2) == pytest.approx(5.0)   # 1 / 3 of a core
    assert 0.0 < estimate._other_work(1.1, 2) < 1.2   # measurement noise near 1: a ramp


def test_several_workers_share_what_two_processes_got_together(monkeypatch):
    monkeypatch.setattr(estimate, "_cores", lambda: 2)
    assert estimate._slowdown(1, 1.4, None) == 1.4          # one worker: as the probes ran
    assert estimate._slowdown(2, 1.0, 2.0) == 1.0           # an idle machine: a core each
    assert estimate._slowdown(2, 1.3, 1.1) == pytest.approx(2 / 1.1)  # two got 1.1 cores
    assert estimate._slowdown(4, 1.0, 2.0) == pytest.approx(2.0)      # four on two cores
    monkeypatch.setattr(estimate, "_cores", lambda: 8)
    assert estimate._slowdown(8, 1.0, 2.0) == 1.0           # two free cores of eight: all free
    assert estimate._slowdown(8, 1.0, 1.0) == pytest.approx(2.0)      # half of each core


def test_evaluations_on_subsets_or_other_folds_are_not_taken_for_an_earlier_stages():
    from cohortbench.design.plans import Subset
    from cohortbench.execute.assumed_plan import evaluation_key

    whole = PlannedEvaluation("learn", 4, 0, "2-class", ("qT1",), "all", PipelineConfig("KNN"))
    variants = [dataclasses.replace(whole, subset=Subset(("a", "b"), key="size=2/repeat=0")),
                dataclasses.replace(whole, subset=Subset(("a", "c"), key="size=2/repeat=1")),
                dataclasses.replace(whole, permutations=5),
                dataclasses.replace(whole, outer="repeated-stratified-kfold:5:10"),
                dataclasses.replace(whole, records=("importance",))]
    keys = {evaluation_key(p)[1:] for p in [whole, *variants]}  # [1:]: across stages
    assert len(keys) == 1 + len(variants)
