"""`cohortbench extract` as a user runs it: bad inputs, warnings, and extract -> validate -> run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from .synthetic_images import AFFINE, SHAPE, label_array, make_cohort, spec_text, write_image

TEMPLATE = "atlas/labels.nii.gz"


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "cohortbench.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=600, env=os.environ.copy())


def far_labels(root: Path) -> str:
    far = AFFINE.copy()
    far[:3, 3] += 1000.0
    write_image(root / "atlas" / "far.nii.gz", label_array(), far)
    return spec_text(image="atlas/far.nii.gz")


def fine_labels(root: Path) -> str:
    fine = label_array()
    for axis in range(3):
        fine = np.repeat(fine, 2, axis=axis)
    affine = np.diag([1.0, 1.0, 1.0, 1.0])
    affine[:3, 3] = AFFINE[:3, 3] - 0.5
    write_image(root / "atlas" / "fine.nii.gz", fine, affine)
    return spec_text(image="atlas/fine.nii.gz")


def four_d_map(root: Path) -> str:
    path = root / "derivatives" / "sub-02" / "anat" / "sub-02_FA.nii.gz"
    write_image(path, np.zeros((*SHAPE, 3)))
    return spec_text(image=TEMPLATE)


def four_d_labels(root: Path) -> str:
    write_image(root / "atlas" / "labels.nii.gz", np.stack([label_array()] * 2, axis=-1))
    return spec_text(image=TEMPLATE)


BAD = {
    "grid mismatch without resample": (fine_labels, ["on different grids", "labels.resample: true",
                                                     "sub-01", "fine.nii.gz"]),
    "no world overlap": (far_labels, ["do not overlap in scanner coordinates", "sub-01",
                                      "far.nii.gz"]),
    "map pattern matches nothing": (
        lambda root: spec_text(image=TEMPLATE).replace("_FA.nii.gz", "_fa.nii.gz"),
        ["maps.FA", "matches no file for any of the 4 subjects", "sub-01_fa.nii.gz"]),
    "kept label in no image": (
        lambda root: spec_text(image=TEMPLATE).replace(
            "  lut: FreeSurferColorLUT.txt\n",
            "  lut: FreeSurferColorLUT.txt\n  keep: [Brain-Stem, Not-In-Any-Image]\n"),
        ["labels.keep[1]", "label 99 (Not-In-Any-Image)", "in none of"]),
    "4D map": (four_d_map, ["sub-02_FA.nii.gz", "4D", "3D image is expected"]),
    "unknown key": (lambda root: spec_text(image=TEMPLATE) + "statistc: median\n",
                    ["extract.yaml", "statistc", "did you mean 'statistic'"]),
}
#: more bad inputs, run through the same entry point in this process (a subprocess
#: costs seconds of imports on a loaded 2-core machine)
MORE_BAD = {
    "4D label image": (four_d_labels, ["labels.nii.gz", "4D", "3D image is expected"]),
    "missing LUT": (lambda root: spec_text(image=TEMPLATE).replace("FreeSurferColorLUT", "LUT"),
                    ["LUT.txt", "labels.lut", "does not exist"]),
    "label pattern matches nothing": (
        lambda root: spec_text().replace("_dseg.nii.gz", "_aseg.nii.gz"),
        ["labels.image", "matches no file for any"]),
    "a non-integer label image": (
        lambda root: (write_image(root / "atlas" / "prob.nii.gz", np.full(SHAPE, 0.4)),
                      spec_text(image="atlas/prob.nii.gz"))[1],
        ["prob.nii.gz", "not whole numbers"]),
}


def bad_cohort(tmp_path: Path, case: str, make_spec) -> Path:
    make_cohort(tmp_path, per_subject_labels=case == "label pattern matches nothing")
    if case != "label pattern matches nothing":
        write_image(tmp_path / "atlas" / "labels.nii.gz", label_array())
    text = make_spec(tmp_path)
    spec = tmp_path / "extract.yaml"
    spec.write_text(text)
    return spec


def assert_one_error_line(stderr: str, words: list[str]) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_one_sentence_exit_2_and_nothing_written(tmp_path, case):
    make_spec, words = BAD[case]
    spec = bad_cohort(tmp_path, case, make_spec)
    out = tmp_path / "out"
    r = cli("extract", spec, "--out", out, "--jobs", "1")
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr + r.stdout
    assert_one_error_line(r.stderr, words)
    assert not out.exists()


@pytest.mark.parametrize("case", [*MORE_BAD, "--jobs 0"])
def test_more_bad_inputs_through_the_cli_entry_point(tmp_path, case, capsys):
    from cohortbench.cli import main

    make_spec, words = MORE_BAD.get(case, (lambda root: spec_text(), ["--jobs", "1 or more"]))
    spec = bad_cohort(tmp_path, case, make_spec)
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as info:
        main(["extract", str(spec), "--out", str(out), "--jobs", "0" if case == "--jobs 0" else "1"])
    assert info.value.code == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert_one_error_line(captured.err, words)
    assert not out.exists()


def test_extract_warns_then_validate_then_a_tiny_run(tmp_path):
    from cohortbench import api

    make_cohort(tmp_path / "c", n_subjects=10)
    os.remove(tmp_path / "c" / "derivatives" / "sub-03" / "anat" / "sub-03_FA.nii.gz")
    spec = tmp_path / "c" / "extract.yaml"
    spec.write_text(spec_text())
    out = tmp_path / "out"
    r = cli("extract", spec, "--out", out, "--jobs", "1")
    assert r.returncode == 0, r.stderr
    assert "19 computed, 0 reused" in r.stdout
    warnings = [line for line in r.stdout.splitlines() if line.startswith("warning: ")]
    assert any("map 'FA'" in w and "sub-03" in w and "missing-file" in w for w in warnings)
    assert any("Brain-Stem" in w and "sub-02" in w and "absent" in w for w in warnings)
    assert "[extract] 10/10 subjects" in r.stderr  # progress lines when not on a terminal
    assert "Traceback" not in r.stderr

    study = out / "study.yaml"
    r = cli("validate", study)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "task group: HC 5, ALS 5" in r.stdout
    assert "qT1: 4 ROIs" in r.stdout and "FA: 4 ROIs" in r.stdout
    dropped = [line for line in r.stdout.splitlines() if line.startswith("dropped from qT1+FA/all")]
    assert [line.split(": ")[1].split(" ")[0] for line in dropped] == ["sub-02", "sub-03"]

    doc = yaml.safe_load(study.read_text())
    doc["permutations"] = 2
    doc["stages"] = [{"name": "screen", "classifiers": ["KNN"],
                      "pipeline": {"row_scaling": "standard", "column_scaling": "standard"}}]
    small = out / "small.yaml"
    small.write_text(yaml.safe_dump(doc, sort_keys=False))
    r = cli("run", small, "--out", tmp_path / "run", "--jobs", "1", "--engine", "fast", "--quiet")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 evaluations: 1 computed, 0 reused, 0 failed" in r.stdout
    evaluations = api.results(tmp_path / "run")["evaluations"]
    assert list(evaluations["classifier"]) == ["KNN"] and int(evaluations["n_subjects"].iloc[0]) == 8
