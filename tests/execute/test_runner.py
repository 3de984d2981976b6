"""The study runner: stages, decisions, resume, backends, failures."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import cohortbench as cb
from cohortbench.errors import RunError
from cohortbench.store.results_store import ResultsStore
from cohortbench.store.run_lock import RunLock


EVAL_COLUMNS = [
    "evaluation_id", "stage", "task", "classifier", "row_scaling", "column_scaling",
    "feature_selection", "n_features", "dim_reduction", "search", "modalities", "parcellation",
    "n_subjects", "accuracy", "balanced_accuracy", "f1_macro", "n_permutations", "null_mean",
    "null_std", "z_score", "p_value", "seconds",
]


def _exports(run_dir: Path, out: Path) -> dict[str, pd.DataFrame]:
    paths = cb.export(run_dir, out)
    frames = {name: pd.read_csv(path, keep_default_na=False) for name, path in paths.items()}
    # wall-clock seconds are the one field that legitimately differs between runs
    frames["evaluations"] = frames["evaluations"].drop(columns=["seconds"])
    return frames


def _assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=True, obj=name)


def test_run_writes_all_stages_and_spec_columns(tiny_run, tmp_path):
    study_path, run_dir = tiny_run
    paths = cb.export(run_dir, tmp_path / "csv")
    evals = pd.read_csv(paths["evaluations"])
    assert list(evals.columns[: len(EVAL_COLUMNS)]) == EVAL_COLUMNS
    assert list(pd.read_csv(paths["predictions"]).columns) == ["evaluation_id", "subject", "true_label", "predicted_label"]
    assert list(pd.read_csv(paths["nulls"]).columns) == ["evaluation_id", "permutation", "accuracy"]
    counts = evals.groupby("stage").size().to_dict()
    assert counts["screen"] == 3 * 2                       # 3 classifiers x 2 tasks
    assert counts["refine"] == 2 * (2 * 1 * 2 * 1) * 2  # 2 kept x (2 row x 1 column x (none, kbest-5) x 1 reducer) x 2 tasks
    assert counts["tune"] == 1
    assert counts["enrich"] == 2 * 2
    assert set(evals[evals.stage == "enrich"].modalities) == {"qT1+DTI", "qT1"}
    assert set(evals[evals.stage == "enrich"].parcellation) == {"GM", "all"}
    assert (evals.groupby("evaluation_id").size() == 1).all()
    nulls = pd.read_csv(paths["nulls"])
    assert (nulls.groupby("evaluation_id").size() == 2).all()


def test_exported_results_match_the_engine(tiny_run, tmp_path):
    study_path, run_dir = tiny_run
    study = cb.load_study(study_path)
    frames = cb.results(run_dir)
    row = frames["evaluations"].query("stage == 'screen' and classifier == 'SVM_LIN' and task == '3-class'").iloc[0]
    config = cb.PipelineConfig("SVM_LIN", row_scaling="standard", column_scaling="standard")
    direct = cb.evaluate(study, "3-class", config)
    assert row["accuracy"] == direct.accuracy
    preds = frames["predictions"].query("evaluation_id == @row.evaluation_id")
    assert tuple(preds["predicted_label"]) == direct.predicted_labels
    assert tuple(preds["subject"]) == direct.subjects
    nulls = frames["nulls"].query("evaluation_id == @row.evaluation_id")
    assert tuple(nulls["accuracy"]) == direct.null_accuracies


def test_decisions_are_recorded_and_deterministic(tiny_run, tmp_path):
    study_path, run_dir = tiny_run
    with ResultsStore.open(run_dir, create=False) as store:
        decisions = {(d["stage"], d["kind"]): d["payload"] for d in store.decisions()}
    shortlist = decisions[("screen", "shortlist")]
    assert shortlist["classifiers"] == ["KNN", "SVM_LIN"]  # registry order
    assert set(shortlist["reasons"]) == {"MLR_L2", "SVM_LIN", "KNN"}
    best = decisions[("tune", "pipeline")]["pipeline"]
    assert set(best) == {"row_scaling", "column_scaling", "feature_selection", "n_features", "dim_reduction"}
    resolved = (run_dir / "study.yaml").read_text()
    assert "shortlist" in resolved and "decisions" in resolved


def _decisions(run_dir):
    with ResultsStore.open(run_dir, create=False) as store:
        return store.decisions()


def test_rerun_recomputes_nothing(tiny_run):
    study_path, run_dir = tiny_run
    outcome = cb.run(study_path, run_dir, jobs=1, build_report=False)
    assert outcome.computed == 0
    assert outcome.total > 0


def test_second_concurrent_run_is_refused(tiny_study, tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    with RunLock(run_dir):
        with pytest.raises(RunError, match="in use"):
            cb.run(tiny_study, run_dir, jobs=1, build_report=False)
    assert not (run_dir / "results.sqlite").exists()


def test_jobs_and_dask_give_identical_exports_and_decisions(tiny_run, tmp_path):
    from distributed import LocalCluster

    study, reference = tiny_run  # run with --jobs 1
    cb.run(study, tmp_path / "j2", jobs=2, build_report=False, engine="reference")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        cb.run(study, tmp_path / "dask", scheduler=cluster.scheduler_address, build_report=False,
               engine="reference")
    one = _exports(reference, tmp_path / "x1")
    _assert_same(one, _exports(tmp_path / "j2", tmp_path / "x2"))
    _assert_same(one, _exports(tmp_path / "dask", tmp_path / "x3"))
    assert _decisions(reference) == _decisions(tmp_path / "j2") == _decisions(tmp_path / "dask")


def _count(run_dir: Path) -> int:
    import sqlite3

    path = run_dir / "results.sqlite"
    if not path.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
        try:
            return con.execute("select count(*) from evaluations").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


@pytest.mark.parametrize("kill_after", [1, 9, 20])
def test_sigkill_then_resume_equals_uninterrupted(tiny_run, tmp_path, kill_after):
    study, reference = tiny_run
    run_dir = tmp_path / "killed"
    cmd = [sys.executable, "-m", "cohortbench.cli", "run", str(study), "--out", str(run_dir),
           "--jobs", "1", "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while _count(run_dir) < kill_after and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 0 < _count(run_dir) < 27
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    _assert_same(_exports(reference, tmp_path / "a"), _exports(run_dir, tmp_path / "b"))


def test_a_failing_evaluation_is_recorded_and_the_study_goes_on(tiny_study, tmp_path, monkeypatch):
    from cohortbench.execute import units

    real = units._reference

    def flaky(problem, config, cv):
        if config.classifier == "KNN":
            raise FloatingPointError("solver blew up")
        return real(problem, config, cv)

    monkeypatch.setattr(units, "_reference", flaky)
    outcome = cb.run(tiny_study, tmp_path / "run", jobs=1, build_report=False, engine="reference")
    assert outcome.failed >= 2
    status = cb.status(tmp_path / "run").stages
    assert status.set_index("stage").loc["screen", "failed"] == 2
    assert status.set_index("stage").loc["refine", "failed"] == 8  # KNN x 4 configurations x 2 tasks
    from cohortbench.api import failures

    fails = failures(tmp_path / "run")
    assert fails["error"].str.contains("solver blew up").all()
    # the rest of the study ran
    assert status.set_index("stage").loc["enrich", "done"] == 4


@pytest.mark.parametrize("min_label_vectors", [None, 1])
def test_the_fast_engine_gives_the_reference_exports(tiny_run, tmp_path, monkeypatch,
                                                     min_label_vectors):
    if min_label_vectors:  # units split into ranges of label vectors, joined by the runner
        import cohortbench.execute.runner as runner

        monkeypatch.setattr(runner, "_MIN_LABEL_VECTORS", min_label_vectors)
    study, reference = tiny_run
    outcome = cb.run(study, tmp_path / "fast", jobs=2, engine="fast", build_report=False)
    assert outcome.failed == 0
    fast = _exports(tmp_path / "fast", tmp_path / "x1")
    assert set(fast["evaluations"]["engine"]) <= {"fast", "fast-fallback"}
    assert (fast["evaluations"]["engine"] == "fast").any()
    slow = _exports(reference, tmp_path / "x2")
    for frames in (fast, slow):
        frames["evaluations"] = frames["evaluations"].drop(columns=["engine"])
    _assert_same(slow, fast)


def test_fast_units_split_by_classifier_strategy_and_rfe_prefix():
    from types import SimpleNamespace

    from cohortbench.design.configs import CVScheme, PipelineConfig
    from cohortbench.execute.runner import _units

    def planned(config, task="t"):
        return SimpleNamespace(modalities=("m",), parcellation="p", task=task, config=config)

    tune = [PipelineConfig(clf, row_scaling="standard", search=s)
            for clf in ("MLP", "KNN") for s in ("grid", "random", "bayes")]
    refine = [PipelineConfig("MLP", row_scaling=r, feature_selection=sel, n_features=5)
              for r in ("none", "standard") for sel in ("rfe", "kbest")]
    todo = ([(c.id, planned(c), "problem t") for c in tune]
            + [(c.id, planned(c, task="u"), "problem u") for c in refine])
    cv = CVScheme(permutations=50)
    units, members = _units(todo, cv, engine="fast")
    # Tuning: one unit per (task, classifier, strategy); RFE groups: per scaling prefix.
    assert [len(u[1]) for u in units] == [1] * 6 + [2, 2]
    assert [u[0] for u in units] == ["problem t"] * 6 + ["problem u"] * 2
    assert {c.row_scaling for c in units[-1][1]} == {"standard"}
    assert all(u[4] is None and u[5] == {} and u[6] is None for u in units)
    assert sum(len(m) for m in members) == len(todo)
    reference_units, _ = _units(todo, cv, engine="reference", workers=64)
    assert len(reference_units) == len(todo) and all(u[4] is None for u in reference_units)

    # Many workers, few units: each unit is split into ranges of label vectors
    # (at least 8 each) that together cover the 51 label vectors once.
    units, members = _units(todo, cv, engine="fast", workers=16)
    assert len(units) == 8 * 6
    first = [u[4] for u in units[:6]]
    assert first[0][0] == 0 and first[-1][1] == 51
    assert all(a[1] == b[0] for a, b in zip(first, first[1:]))
    assert min(stop - start for start, stop in first) >= 8
    assert all(m is members[0] for m in members[:6])


def _nearest_centroid(random_state):
    """A user classifier factory at module top level (picklable by reference)."""
    from sklearn.neighbors import NearestCentroid

    return NearestCentroid()


def _user_study(tmp_path, classifier):
    from ..conftest import write_tiny_study

    path = write_tiny_study(tmp_path / "cohort")
    text = path.read_text(encoding="utf-8")
    stages = text.index("stages:")
    path.write_text(text[:stages] + f"""stages:
  - name: screen
    classifiers: [{classifier}, KNN]
    pipeline: {{row_scaling: standard, column_scaling: standard}}
""", encoding="utf-8")
    return path


@pytest.mark.parametrize("engine", ["reference", "fast"])
def test_user_classifiers_reach_worker_processes(tmp_path, engine):
    from cohortbench.design.classifiers import (SearchSpace, register_classifier,
                                                unregister_classifier)

    register_classifier("CENTROID", _nearest_centroid, SearchSpace())
    try:
        study = _user_study(tmp_path, "CENTROID")
        one = cb.run(study, tmp_path / "one", jobs=1, engine=engine, build_report=False)
        two = cb.run(study, tmp_path / "two", jobs=2, engine=engine, build_report=False)
    finally:
        unregister_classifier("CENTROID")
    assert one.failed == two.failed == 0
    a, b = _exports(tmp_path / "one", tmp_path / "x1"), _exports(tmp_path / "two", tmp_path / "x2")
    _assert_same(a, b)
    assert "CENTROID" in set(a["evaluations"]["classifier"])


def test_unpicklable_user_classifier_is_refused_before_anything_is_written(tmp_path):
    from cohortbench.design.classifiers import (SearchSpace, register_classifier,
                                                unregister_classifier)
    from sklearn.neighbors import NearestCentroid

    register_classifier("CENTROID", lambda rs: NearestCentroid(), SearchSpace())
    try:
        study = _user_study(tmp_path, "CENTROID")
        with pytest.raises(RunError, match="'CENTROID' cannot be sent to worker processes"):
            cb.run(study, tmp_path / "run", jobs=2, build_report=False)
    finally:
        unregister_classifier("CENTROID")
    assert not (tmp_path / "run" / "results.sqlite").exists()
