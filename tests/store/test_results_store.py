"""The results store: round trips, idempotence, order, failures, damage, durability."""

from __future__ import annotations

import dataclasses
import math
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pandas as pd
import pytest

from cohortbench.errors import RunError
from cohortbench.store import EvaluationResult, ResultsStore, SCHEMA_VERSION, STORE_NAME
from cohortbench.store import results_store as results_store_module

SUBJECTS = tuple(f"sub-{i:02d}" for i in range(6))


def make_result(i: int = 0, *, permutations: int = 4, task: str = "2-class") -> EvaluationResult:
    """A hand-made record whose numbers depend on ``i`` (awkward floats included)."""
    true = ("HC", "HC", "HC", "ALS", "ALS", "ALS")
    pred = tuple(true[(k + i) % 6] for k in range(6))
    nulls = tuple(0.1 * (k + 1) + i / 7 for k in range(permutations))
    return EvaluationResult(
        task=task,
        classes=("HC", "ALS"),
        config_id=f"cfg{i:04d}",
        view_fingerprint="view0001",
        folds_id="folds001",
        accuracy=(i % 6) / 6 + 1e-17,
        balanced_accuracy=1 / 3 + i,
        f1_macro=0.1 + 0.2,
        confusion=((2, 1), (1 + i, 2)),
        subjects=SUBJECTS,
        true_labels=true,
        predicted_labels=pred,
        null_accuracies=nulls,
        null_mean=float(np.mean(nulls)) if nulls else None,
        null_std=float(np.std(nulls)) if nulls else None,
        z_score=2.5 - i if nulls else None,
        p_value=1 / (1 + permutations) if nulls else None,
        chosen_params=tuple({"C": 10.0 ** (k - 2), "hidden_layer_sizes": (50, k)}
                            for k in range(6)),
        seconds=0.25 + i,
        n_features_used=10 if i % 2 else None,
        engine="reference",
        warnings=("a warning",) if i % 3 == 0 else (),
    )


def make_meta(i: int = 0, **overrides) -> dict:
    selector = "kbest" if i % 2 else "none"
    meta = {
        "position": i, "stage": "refine", "stage_index": 1, "task": "2-class",
        "classifier": "SVM_LIN", "row_scaling": "standard", "imputation": "none",
        "column_scaling": "minmax", "feature_selection": selector,
        "n_features": 10 if i % 2 else None, "dim_reduction": "pca", "search": "none",
        "modalities": "qT1+DTI", "parcellation": "GM", "n_subjects": 6, "n_permutations": 4,
    }
    meta.update(overrides)
    return meta


def assert_same_record(got: EvaluationResult, want: EvaluationResult) -> None:
    for field in dataclasses.fields(EvaluationResult):
        a, b = getattr(got, field.name), getattr(want, field.name)
        if isinstance(b, float) and math.isnan(b):
            assert isinstance(a, float) and math.isnan(a), field.name
        else:
            assert a == b, field.name
            assert type(a) is type(b), field.name


@pytest.fixture
def store(tmp_path):
    with ResultsStore.open(tmp_path / "run") as s:
        yield s


def test_round_trip_field_by_field(store):
    result = make_result(3)
    assert store.write_result("key3", make_meta(3), result) is True
    assert store.has("key3") and not store.has("other")
    got = store.get_result("key3")
    assert_same_record(got, result)
    assert got.chosen_params[1]["hidden_layer_sizes"] == (50, 1)  # tuples survive
    with pytest.raises(KeyError):
        store.get_result("missing")


def test_round_trip_without_permutations_and_with_numpy_and_nan(store):
    plain = make_result(1, permutations=0)
    store.write_result("noperm", make_meta(1, n_permutations=0), plain)
    assert_same_record(store.get_result("noperm"), plain)
    assert store.get_result("noperm").z_score is None

    nan_z = dataclasses.replace(make_result(2), z_score=float("nan"), null_std=0.0)
    store.write_result("nan", make_meta(2), nan_z)
    assert_same_record(store.get_result("nan"), nan_z)

    # numpy scalars from an engine are accepted and come back as Python values
    numpy_result = dataclasses.replace(
        make_result(4), accuracy=np.float64(0.75), confusion=((np.int64(3), np.int64(0)),
                                                              (np.int64(1), np.int64(2))))
    store.write_result("np", make_meta(np.int64(4), n_features=np.int64(25)), numpy_result)
    got = store.get_result("np")
    assert got.accuracy == 0.75 and got.confusion == ((3, 0), (1, 2))
    assert type(got.confusion[0][0]) is int
    assert store.evaluations_frame().set_index("evaluation_key").loc["np", "n_features"] == 25


def test_repeated_subjects_keep_their_order(store):
    # repeated k-fold predicts each subject several times
    result = dataclasses.replace(make_result(0), subjects=SUBJECTS + SUBJECTS,
                                 true_labels=make_result(0).true_labels * 2,
                                 predicted_labels=make_result(1).predicted_labels * 2)
    store.write_result("rep", make_meta(0, n_subjects=6), result)
    assert_same_record(store.get_result("rep"), result)


def test_write_is_idempotent(store):
    result = make_result(5)
    assert store.write_result("k", make_meta(5), result) is True
    assert store.write_result("k", make_meta(5), make_result(1)) is False
    assert store.count() == 1 and store.done_keys() == {"k"}
    assert len(store.predictions_frame()) == len(SUBJECTS)
    assert len(store.nulls_frame()) == 4
    assert_same_record(store.get_result("k"), result)  # the first write stands


def test_writes_from_several_threads(store):
    def write(offset):
        for i in range(offset, 40, 4):
            store.write_result(f"k{i}", make_meta(i), make_result(i))

    threads = [threading.Thread(target=write, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.count() == 40
    assert len(store.predictions_frame()) == 40 * len(SUBJECTS)
    assert list(store.evaluations_frame()["position"]) == list(range(40))


def test_meta_is_checked_and_extras_kept(store):
    with pytest.raises(ValueError, match="position"):
        store.write_result("k", {"stage": "screen"}, make_result())
    with pytest.raises(ValueError, match="task"):
        store.write_result("k", make_meta(0, task="SvF"), make_result())
    assert store.count() == 0
    store.write_result("k", make_meta(0, modalities=["qT1", "DTI", "Na"], batch=7),
                       make_result())
    row = store.evaluations_frame().iloc[0]
    assert row["modalities"] == "qT1+DTI+Na"
    assert row["extra_json"] == '{"batch":7}'


def test_frames_follow_position_not_write_order(tmp_path):
    order = list(range(8))
    random.Random(3).shuffle(order)
    with ResultsStore.open(tmp_path / "run") as store:
        for i in order:
            store.write_result(f"key{7 - i}", make_meta(i), make_result(i))
        evaluations = store.evaluations_frame()
        predictions = store.predictions_frame()
        nulls = store.nulls_frame()
    assert list(evaluations["position"]) == list(range(8))
    assert list(evaluations["evaluation_key"]) == [f"key{7 - i}" for i in range(8)]
    assert list(pd.unique(predictions["evaluation_key"])) == list(evaluations["evaluation_key"])
    assert list(predictions["subject"][:6]) == list(SUBJECTS)
    assert list(nulls["permutation"][:4]) == [0, 1, 2, 3]
    assert str(evaluations["n_features"].dtype) == "Int64"
    assert evaluations["n_features"].isna().tolist() == [i % 2 == 0 for i in range(8)]


def test_failures_and_their_clearing(store):
    store.write_failure("bad", make_meta(2), "ValueError: boom", "Traceback ...")
    store.write_failure("worse", make_meta(1), "first", "tb")
    store.write_failure("worse", make_meta(1), "second", "tb")
    failures = store.failures()
    assert list(failures["evaluation_key"]) == ["worse", "bad"]  # by position
    assert failures.set_index("evaluation_key").loc["worse", "error"] == "second"
    assert failures.set_index("evaluation_key").loc["bad", "classifier"] == "SVM_LIN"

    store.write_result("bad", make_meta(2), make_result(2))  # a later success
    assert list(store.failures()["evaluation_key"]) == ["worse"]
    store.write_failure("bad", make_meta(2), "late", "tb")  # success wins
    assert list(store.failures()["evaluation_key"]) == ["worse"]
    assert store.clear_failures(["worse", "never"]) == 1
    assert store.failures().empty


def test_decisions_and_info(store):
    store.set_decision("screen", "shortlist", {"classifiers": ["SVM_LIN", "MLR_L2"]})
    store.set_decision("refine", "best", {"pipeline": {"row_scaling": "standard"}})
    store.set_decision("screen", "shortlist", {"classifiers": ["KNN"]})  # replaced in place
    assert store.get_decision("screen", "shortlist") == {"classifiers": ["KNN"]}
    assert store.get_decision("tune", "best") is None
    assert [(d["stage"], d["kind"]) for d in store.decisions()] == [
        ("screen", "shortlist"), ("refine", "best")]
    store.set_info("study", {"name": "als-7t", "seed": 0, "ratio": 0.1 + 0.2})
    store.set_info("warnings", ["w1"])
    store.set_info("warnings", ["w1", "w2"])
    assert store.get_info("study") == {"name": "als-7t", "seed": 0, "ratio": 0.1 + 0.2}
    assert store.get_info("warnings") == ["w1", "w2"]
    assert store.get_info("absent", default=42) == 42
    assert list(store.info()) == ["study", "warnings"]


def test_reopen_keeps_everything_and_uses_wal(tmp_path):
    run = tmp_path / "run"
    with ResultsStore.open(run) as store:
        store.write_result("k", make_meta(0), make_result(0))
        assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    con = sqlite3.connect(run / STORE_NAME)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()
    with ResultsStore.open(run, create=False) as store:
        assert store.done_keys() == {"k"}
        assert_same_record(store.get_result("k"), make_result(0))


def test_missing_store_without_create(tmp_path):
    with pytest.raises(RunError, match="holds no results store"):
        ResultsStore.open(tmp_path / "nothing", create=False)
    assert not (tmp_path / "nothing").exists()


def test_newer_schema_is_refused(tmp_path):
    run = tmp_path / "run"
    ResultsStore.open(run).close()
    con = sqlite3.connect(run / STORE_NAME)
    con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                (str(SCHEMA_VERSION + 98),))
    con.commit()
    con.close()
    with pytest.raises(RunError, match=rf"schema version {SCHEMA_VERSION + 98}.*upgrade"):
        ResultsStore.open(run)


def test_foreign_sqlite_file_is_refused(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    con = sqlite3.connect(run / STORE_NAME)
    con.execute("CREATE TABLE something (x)")
    con.commit()
    con.close()
    with pytest.raises(RunError, match="not a cohortbench results store"):
        ResultsStore.open(run)


def _assert_damaged_and_untouched(run, before: bytes):
    path = run / STORE_NAME
    with pytest.raises(RunError) as info:
        ResultsStore.open(run)
    message = str(info.value)
    assert str(path) in message and "damaged" in message and "move it aside" in message
    assert path.read_bytes() == before
    assert sorted(p.name for p in run.iterdir()) == [STORE_NAME]


def test_garbage_file_is_reported_and_left_untouched(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    garbage = bytes(random.Random(0).getrandbits(8) for _ in range(10000))
    (run / STORE_NAME).write_bytes(garbage)
    _assert_damaged_and_untouched(run, garbage)


def test_truncated_store_is_reported_and_left_untouched(tmp_path):
    run = tmp_path / "run"
    with ResultsStore.open(run) as store:
        for i in range(40):
            store.write_result(f"k{i}", make_meta(i), make_result(i))
    path = run / STORE_NAME
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _assert_damaged_and_untouched(run, data[: len(data) // 2])


@pytest.mark.parametrize("message", [
    "attempt to write a readonly database", "unable to open database file",
    "database or disk is full", "disk I/O error"])
def test_unwritable_or_full_directory(tmp_path, monkeypatch, message):
    # Tests run as root here, where chmod does not stop writes: simulate sqlite's answer.
    def refuse(*args, **kwargs):
        raise sqlite3.OperationalError(message)

    monkeypatch.setattr(results_store_module.sqlite3, "connect", refuse)
    with pytest.raises(RunError, match="directory is not writable or the disk is full") as info:
        ResultsStore.open(tmp_path / "run")
    assert str(tmp_path / "run") in str(info.value)


def test_read_only_directory_for_real(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    run.chmod(0o555)
    try:
        if os.access(run, os.W_OK):
            pytest.skip("running as root: chmod does not stop writes (simulated above)")
        with pytest.raises(RunError, match=str(run)):
            ResultsStore.open(run)
    finally:
        run.chmod(0o755)


def test_run_dir_that_is_a_file(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(RunError, match="Cannot use the run directory"):
        ResultsStore.open(blocker / "run")


CRASH_WRITER = textwrap.dedent("""
    import sys
    from tests.store.test_results_store import make_meta, make_result
    from cohortbench.store import ResultsStore
    store = ResultsStore.open(sys.argv[1])
    i = 0
    while True:
        store.write_result(f"k{i}", make_meta(i, n_permutations=50),
                           make_result(i, permutations=50))
        print(i, flush=True)
        i += 1
""")


def test_sigkill_mid_run_leaves_only_complete_evaluations(tmp_path):
    run = tmp_path / "run"
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    child = subprocess.Popen([sys.executable, "-c", CRASH_WRITER, str(run)], cwd=root,
                             stdout=subprocess.PIPE, text=True)
    try:
        for line in child.stdout:
            if int(line) >= 25:
                break
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    with ResultsStore.open(run) as store:  # opens fine: no damage
        n = store.count()
        assert n >= 26
        assert store.done_keys() == {f"k{i}" for i in range(n)}
        predictions = store.predictions_frame().groupby("evaluation_key").size()
        nulls = store.nulls_frame().groupby("evaluation_key").size()
        assert (predictions == len(SUBJECTS)).all() and len(predictions) == n
        assert (nulls == 50).all() and len(nulls) == n
        assert_same_record(store.get_result(f"k{n - 1}"), make_result(n - 1, permutations=50))
