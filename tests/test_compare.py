"""`cohortbench compare`: the exact McNemar p of two evaluations, run as a subprocess."""

from __future__ import annotations

import itertools
import re
import subprocess
import sys

import pandas as pd
import pytest
from scipy import stats

import cohortbench as cb


def cli(*args):
    return subprocess.run([sys.executable, "-m", "cohortbench.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def exported(tiny_run, tmp_path_factory):
    _study, run_dir = tiny_run
    out = tmp_path_factory.mktemp("compare_export")
    paths = cb.export(run_dir, out)
    return run_dir, pd.read_csv(paths["evaluations"]), pd.read_csv(paths["predictions"])


def _correct(predictions, evaluation_id):
    rows = predictions[predictions["evaluation_id"] == evaluation_id].set_index("subject")
    return rows["true_label"] == rows["predicted_label"]


def _most_discordant_pair(evaluations, predictions, task):
    """Two evaluations of ``task`` on the same folds that disagree on the most subjects."""
    same = evaluations[evaluations["task"] == task]
    best = None
    for a, b in itertools.combinations(same.itertuples(), 2):
        if a.folds_id != b.folds_id:
            continue
        right_a, right_b = _correct(predictions, a.evaluation_id), _correct(predictions, b.evaluation_id)
        right_b = right_b.loc[right_a.index]
        n_b, n_c = int((right_a & ~right_b).sum()), int((~right_a & right_b).sum())
        if best is None or n_b + n_c > best[2] + best[3]:
            best = (a.evaluation_id, b.evaluation_id, n_b, n_c)
    return best


def test_compare_prints_the_exact_mcnemar_p_of_the_predictions(exported):
    run_dir, evaluations, predictions = exported
    id_a, id_b, n_b, n_c = _most_discordant_pair(evaluations, predictions, "2-class")
    assert n_b + n_c > 0
    want = stats.binomtest(n_b, n_b + n_c, 0.5).pvalue
    r = cli("compare", run_dir, id_a[:10], id_b)       # a prefix is enough
    assert r.returncode == 0, r.stderr
    assert f"A right, B wrong: {n_b}\n" in r.stdout
    assert f"A wrong, B right: {n_c}\n" in r.stdout
    printed = float(re.search(r"exact McNemar p = (\S+)", r.stdout).group(1))
    assert printed == pytest.approx(want, rel=1e-5)
    # both accuracies with their intervals, computed independently here
    n = int((predictions["evaluation_id"] == id_a).sum())
    for name, evaluation_id in (("A", id_a), ("B", id_b)):
        k = int(_correct(predictions, evaluation_id).sum())
        ci = stats.binomtest(k, n).proportion_ci(method="wilson")
        assert f"accuracy {k / n:.3f} (95 % interval {ci.low:.3f}-{ci.high:.3f})" in r.stdout
        assert f"{name}: {evaluation_id}" in r.stdout
    assert f"subjects: {n} (same task, subjects and folds)" in r.stdout
    assert "the exact McNemar test gives p = " in r.stdout


def test_compare_refuses_two_tasks_with_one_line_and_exit_2(exported):
    run_dir, evaluations, _ = exported
    id_a = evaluations.loc[evaluations["task"] == "2-class", "evaluation_id"].iloc[0]
    id_b = evaluations.loc[evaluations["task"] == "3-class", "evaluation_id"].iloc[0]
    r = cli("compare", run_dir, id_a, id_b)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr
    assert lines[0].startswith("error: cannot compare: A is an evaluation of task '2-class'")


def test_compare_unknown_or_ambiguous_id(exported):
    run_dir, evaluations, _ = exported
    r = cli("compare", run_dir, "zzzz-not-an-id", evaluations["evaluation_id"].iloc[0])
    assert r.returncode == 2
    assert "no evaluation" in r.stderr and "zzzz-not-an-id" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    first = evaluations["evaluation_id"].str[0].value_counts()
    shared = first.index[0]
    assert first.iloc[0] >= 2
    with pytest.raises(cb.RunError, match=f"the id prefix '{shared}' matches {first.iloc[0]} evaluations"):
        cb.compare(run_dir, shared, evaluations["evaluation_id"].iloc[0])


def test_api_compare_returns_the_comparison(exported):
    run_dir, evaluations, predictions = exported
    id_a, id_b, n_b, n_c = _most_discordant_pair(evaluations, predictions, "2-class")
    result = cb.compare(run_dir, id_a, id_b)
    assert result.comparable and (result.b, result.c) == (n_b, n_c)
    accuracy = evaluations.set_index("evaluation_id")["accuracy"]
    assert result.accuracy_a == pytest.approx(accuracy[id_a])
    assert result.accuracy_b == pytest.approx(accuracy[id_b])
    assert result.description_a.startswith(
        f"{evaluations.set_index('evaluation_id').loc[id_a, 'stage']} / 2-class / ")
