"""The bad-input corpus through the command line (issue 7: "Prove it holds").

Every broken input of :mod:`tests.badinput.cases` must stop ``cohortbench validate``
and ``cohortbench run --out DIR`` with exit code 2, one line on stderr naming the
culprit, no traceback, and nothing written to DIR. Odd-but-valid inputs (a BOM, ``;``
separators, Windows line endings, Excel) must be read exactly like the base data.

The CLI is called in-process (``cohortbench.cli.main``) for speed; a few cases go
through a real ``python -m cohortbench.cli`` process to prove the process behaves the
same (exit status, stderr).
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

from cohortbench import cli
from cohortbench.design import classifiers as registry
from cohortbench.design.classifiers import SearchSpace, register_classifier
from cohortbench.design.loaded_study import load_study

from .cases import (CASES, ERROR_CASES, OK_CASES, STUDY_FILE, WARNING_CASES, Case, copy_base,
                    write_base)
from .mutations import edit_text

#: Cases whose fix lies outside the data/design layers (the lead's files); see the reasons.
XFAIL: dict[str, str] = {}  # case name -> reason, for a known gap (strict)


def _param(case: Case):
    marks = [pytest.mark.xfail(strict=True, reason=XFAIL[case.name])] if case.name in XFAIL else []
    return pytest.param(case, id=case.name, marks=marks)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("badinput") / "base"
    write_base(base)
    return base


@pytest.fixture(scope="module")
def base_study(template):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return load_study(template / "study.yaml")


def make_case(template: Path, tmp_path: Path, case: Case) -> Path:
    root = tmp_path / "case"
    study = copy_base(template, root)
    case.mutate(root)
    return study


def call_cli(capsys, *args) -> tuple[int, str, str]:
    """``cohortbench ARGS`` in this process: (exit code, stdout, stderr)."""
    capsys.readouterr()
    with warnings.catch_warnings():
        # The cohort's warnings reach stdout as `warning:` lines; Python's copy is noise here.
        warnings.simplefilter("ignore", UserWarning)
        try:
            cli.main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def squeeze(text: str) -> str:
    """Text without whitespace: the console wraps long lines at its width."""
    return "".join(text.split())


def assert_one_line_error(code, out, err, case: Case, command: str) -> None:
    assert code == 2, f"{command}: exit {code}\nstdout: {out}\nstderr: {err}"
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"{command}: stderr has {len(lines)} lines:\n{err}"
    assert lines[0].startswith("error: ")
    missing = [w for w in case.words if w not in lines[0]]
    assert not missing, f"{command}: {missing} not in: {lines[0]}"


def test_the_corpus_is_big_enough():
    assert len(ERROR_CASES) >= 25
    assert len({c.name for c in CASES}) == len(CASES)
    assert all(c.words for c in ERROR_CASES + WARNING_CASES)


def test_the_base_study_is_valid(template, capsys):
    code, out, err = call_cli(capsys, "validate", template / "study.yaml")
    assert code == 0, err
    assert "task 3-class: HC 6, slow 5, fast 5" in out
    assert "warning" not in out   # so that every warning a case expects comes from its mutation


@pytest.mark.parametrize("case", [_param(c) for c in ERROR_CASES])
def test_bad_input_stops_before_anything_is_written(case, template, tmp_path, capsys):
    study = make_case(template, tmp_path, case)
    code, out, err = call_cli(capsys, "validate", study)
    assert_one_line_error(code, out, err, case, "validate")
    run_dir = tmp_path / "run"
    code, out, err = call_cli(capsys, "run", study, "--out", run_dir, "--jobs", "1", "--quiet")
    assert_one_line_error(code, out, err, case, "run")
    assert not (run_dir / "results.sqlite").exists()
    assert not run_dir.exists(), sorted(p.name for p in run_dir.iterdir())


@pytest.mark.parametrize("case", [_param(c) for c in WARNING_CASES])
def test_questionable_input_validates_with_a_warning(case, template, tmp_path, capsys):
    study = make_case(template, tmp_path, case)
    code, out, err = call_cli(capsys, "validate", study)
    assert code == 0, err
    assert "Traceback" not in err and "ok: the study is ready to run" in out
    missing = [w for w in case.words if squeeze(w) not in squeeze(out)]
    assert not missing, f"{missing} not in:\n{out}"


def _same_cohort(loaded, base) -> None:
    pd.testing.assert_frame_equal(loaded.clinical, base.clinical)
    assert list(loaded.cohort.maps) == list(base.cohort.maps)
    for name, table in base.cohort.maps.items():
        pd.testing.assert_frame_equal(loaded.cohort.maps[name], table)
    assert loaded.cohort.parcellations == base.cohort.parcellations
    assert loaded.tasks == base.tasks
    assert loaded.label_cuts == base.label_cuts


@pytest.mark.parametrize("case", [_param(c) for c in OK_CASES])
def test_odd_but_valid_input_is_read_like_the_base(case, template, base_study, tmp_path, capsys):
    study = make_case(template, tmp_path, case)
    code, out, err = call_cli(capsys, "validate", study)
    assert code == 0, err
    assert "warning" not in out, out
    if case.same_data:
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)   # nothing to warn about either
            _same_cohort(load_study(study), base_study)


def test_a_capped_n_features_is_recorded_and_said(template, tmp_path):
    """k above the features available keeps them all; the run says so and records the cap."""
    import cohortbench as cb

    case = next(c for c in WARNING_CASES if c.name == "n-features-more-than-available")
    study = make_case(template, tmp_path, case)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        outcome = cb.run(study, tmp_path / "run", jobs=1, build_report=False)
    assert outcome.failed == 0 and outcome.computed == 2
    assert any("n_features 500" in w and "24 features" in w for w in outcome.warnings)
    evaluations = cb.results(tmp_path / "run")["evaluations"]
    assert evaluations["n_features"].tolist() == [500, 500]
    assert evaluations["n_features_used"].tolist() == [24, 24]


# --------------------------------------------------------------------------- real processes
def cli_process(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cohortbench.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=300)


PROCESS_CASES = ["yaml-python-tag", "non-numeric-cell", "class-with-one-subject"]


@pytest.mark.parametrize("name", PROCESS_CASES)
def test_a_real_process_exits_2_with_one_line(name, template, tmp_path):
    case = next(c for c in CASES if c.name == name)
    study = make_case(template, tmp_path, case)
    run_dir = tmp_path / "run"
    for args in (("validate", study), ("run", study, "--out", run_dir, "--jobs", "1", "--quiet")):
        r = cli_process(*args)
        assert_one_line_error(r.returncode, r.stdout, r.stderr, case, args[0])
    assert not run_dir.exists()


def test_one_stderr_line_even_after_a_cohort_warning(template, tmp_path):
    # A map with subjects outside the clinical table (a warning), then an unknown classifier.
    outsiders = next(c for c in CASES if c.name == "map-ids-not-in-participants")
    unknown = next(c for c in CASES if c.name == "unknown-classifier")
    study = make_case(template, tmp_path, outsiders)
    unknown.mutate(study.parent)
    r = cli_process("validate", study)
    assert_one_line_error(r.returncode, r.stdout, r.stderr, unknown, "validate")


class _Broken(ClassifierMixin, BaseEstimator):
    def __init__(self, random_state=None):
        self.random_state = random_state

    def fit(self, X, y):
        raise FloatingPointError("the broken classifier always fails")

    def predict(self, X):  # pragma: no cover - never fitted
        return np.zeros(len(X), dtype=int)


@pytest.fixture
def broken_classifier():
    register_classifier("BROKEN_CLF", lambda rs: _Broken(rs), SearchSpace())
    yield "BROKEN_CLF"
    registry.unregister_classifier("BROKEN_CLF")


def test_failed_evaluations_exit_1(template, tmp_path, capsys, broken_classifier):
    """SPEC 10: exit 1 for a study that finished with failed evaluations."""
    uses_it = Case("broken-classifier", edit_text(STUDY_FILE, "[KNN]", f"[{broken_classifier}]"))
    study = make_case(template, tmp_path, uses_it)
    run_dir = tmp_path / "run"
    code, out, err = call_cli(capsys, "run", study, "--out", run_dir, "--jobs", "1", "--quiet")
    assert "2 failed" in out, out + err
    assert "Traceback" not in err
    assert code == 1
