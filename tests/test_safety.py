"""Safety: user text is shown as text, runs stay in their directory, nothing runs user input.

- Subject IDs, ROI, map, class, task, stage and study names carrying HTML/JavaScript,
  quotes, ``$`` (matplotlib's mathtext), unicode and very long strings go through a real
  run into ``report.html``, where they must appear escaped, never as markup.
- The study ``name`` picks the default run directory; a name such as ``../../evil`` must
  not let ``run`` write anywhere else.
- The package source never hands user input to ``eval``/``exec``/``pickle``/unsafe YAML:
  a grep with a small, justified allowlist.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import markupsafe
import pandas as pd
import pytest

import cohortbench as cb
from cohortbench import api, cli
from cohortbench.data.synthetic import write_synthetic_cohort

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
SVG = "<svg onload=alert('map')>"
QUOTES = """it's "quoted" & <b>bold</b>"""
UNICODE = "Ünïcødé-患者-ß"
MATH = r"cost $\alpha$ & $5"
LONG = "L" * 300 + "<i>long</i>"

# Where each payload goes (every one must end up somewhere in the report).
STUDY_NAME = f"{SCRIPT} étude {QUOTES}"
SUBJECT_MISSING_FA = SCRIPT                 # a participant with no FA row: a warning names it
SUBJECT_OUTSIDER = IMG                      # a qT1 row of no participant: a warning names it
SUBJECT_LONG = LONG                         # another outsider, a very long ID
SUBJECT_UNICODE = UNICODE                   # an ordinary participant
ROI_CONSTANT = IMG + "roi"                  # a constant qT1 column: a warning names it
MAP_NAME = SVG                              # the name of the FA map
CLASS_A, CLASS_B = f"{SCRIPT}HC", f"{MATH} {UNICODE}"
TASK_NAME = f"task {QUOTES}"
STAGE_NAME = f"<i>screen</i> {UNICODE}"
EXPECTED_IN_REPORT = [STUDY_NAME, SUBJECT_MISSING_FA, SUBJECT_OUTSIDER, SUBJECT_LONG,
                      ROI_CONSTANT, MAP_NAME, CLASS_A, CLASS_B, TASK_NAME, STAGE_NAME]


def _yaml_text(value: str) -> str:
    """A YAML double-quoted scalar."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_hostile_study(directory: Path) -> Path:
    """The tiny synthetic cohort with hostile names everywhere; the study path."""
    write_synthetic_cohort(directory, seed=4, n_controls=6, n_slow=5, n_fast=5, n_rois=8, n_gm=4)
    participants = pd.read_csv(directory / "participants.tsv", sep="\t", dtype=str,
                               keep_default_na=False)
    rename = {"sub-001": SUBJECT_MISSING_FA, "sub-002": SUBJECT_UNICODE}
    participants["participant_id"] = participants["participant_id"].replace(rename)
    participants.to_csv(directory / "participants.tsv", sep="\t", index=False)
    roi = "WM_corticospinal_L"   # a white-matter ROI, outside the GM parcellation
    for name in ("qT1", "FA"):
        table = pd.read_csv(directory / "maps" / f"{name}.tsv", sep="\t", dtype=str,
                            keep_default_na=False)
        table["participant_id"] = table["participant_id"].replace(rename)
        table = table.rename(columns={roi: ROI_CONSTANT})
        if name == "qT1":
            table[ROI_CONSTANT] = "1000"
            extra = table.iloc[:2].assign(participant_id=[SUBJECT_OUTSIDER, SUBJECT_LONG])
            table = pd.concat([table, extra], ignore_index=True)
        else:
            table = table[table["participant_id"] != SUBJECT_MISSING_FA]
        table.to_csv(directory / "maps" / f"{name}.tsv", sep="\t", index=False)
    study = directory / "hostile.yaml"
    study.write_text(f"""\
name: {_yaml_text(STUDY_NAME)}
seed: 2
data:
  maps: {{qT1: maps/qT1.tsv, {_yaml_text(MAP_NAME)}: maps/FA.tsv}}
  participants: participants.tsv
  missing: impute-mean
tasks:
  {_yaml_text(TASK_NAME)}:
    classes: {{{_yaml_text(CLASS_A)}: {{group: HC}}, {_yaml_text(CLASS_B)}: {{group: ALS}}}}
cv: {{outer: "stratified-kfold:4", inner: "stratified-kfold:3"}}
permutations: 2
stages:
  - name: {_yaml_text(STAGE_NAME)}
    classifiers: [KNN, SVM_LIN]
    pipeline: {{row_scaling: standard, column_scaling: standard}}
""", encoding="utf-8")
    return study


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory):
    directory = tmp_path_factory.mktemp("hostile")
    study = write_hostile_study(directory / "cohort")
    run_dir = directory / "run"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outcome = cb.run(study, run_dir, jobs=1)
    assert outcome.failed == 0 and outcome.computed == 2
    return run_dir, (run_dir / "report.html").read_text(encoding="utf-8")


def test_the_hostile_study_loads_its_names_as_given(tmp_path):
    study = write_hostile_study(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        loaded = cb.load_study(study)
    assert loaded.spec.name == STUDY_NAME
    assert SUBJECT_UNICODE in loaded.cohort.subjects
    assert list(loaded.cohort.maps) == ["qT1", MAP_NAME]
    assert loaded.tasks[TASK_NAME].classes == (CLASS_A, CLASS_B)
    text = " ".join(loaded.cohort.warnings)
    for payload in (SUBJECT_MISSING_FA, SUBJECT_OUTSIDER, SUBJECT_LONG, ROI_CONSTANT):
        assert payload in text


def test_report_shows_user_text_as_text(hostile_report):
    _, html = hostile_report
    lowered = html.lower()
    assert "<script" not in lowered          # the template itself has no script
    assert "<img src=x" not in lowered and "<svg onload" not in lowered
    assert "<i>screen</i>" not in html and "<b>bold</b>" not in html and "<i>long</i>" not in html
    for payload in EXPECTED_IN_REPORT:
        assert payload not in html
        assert str(markupsafe.escape(payload)) in html, payload
    assert UNICODE in html                   # unicode kept, not mangled


def test_report_attributes_cannot_be_broken_out_of(hostile_report):
    _, html = hostile_report
    # Every attribute value the report writes is quoted and holds no raw quote or bracket.
    for tag in re.findall(r"<[a-zA-Z][^<>]*>", html):
        for value in re.findall(r'=\s*"([^"]*)"', tag):
            assert "<" not in value and ">" not in value, tag
        assert "onerror" not in tag and "onload" not in tag, tag


def test_figure_files_stay_in_the_figures_folder(hostile_report):
    run_dir, html = hostile_report
    figures = run_dir / "figures"
    written = sorted(p for p in run_dir.rglob("*") if p.is_file())
    assert written and all(p.parent in (run_dir, figures) for p in written), written
    for name in re.findall(r'href="figures/([^"]+)"', html):
        assert "/" not in name and ".." not in name
        assert (figures / name).is_file()


# --------------------------------------------------------------------------- run directory
@pytest.mark.parametrize("name", ["../../evil", "/etc/evil", "..", "a/../../b", "~/evil",
                                  "..\\..\\evil", "   ", "\u202e..", "con"])
def test_default_run_directory_stays_in_the_working_directory(tmp_path, monkeypatch, name):
    work = tmp_path / "work" / "here"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)

    class _Spec:
        pass

    class _Study:
        spec = _Spec()

    _Study.spec.name = name
    out = api.default_out(_Study())
    # one plain folder name (".." inside a name such as "a_.._b-run" is harmless)
    assert out.parent == work and out.resolve().parent == work.resolve(), out
    assert out.name.endswith("-run") and out.name not in (".", "..") and "/" not in out.name


def test_run_with_a_traversal_name_writes_inside_the_working_directory(tmp_path, monkeypatch,
                                                                          capsys):
    """The whole command: `cohortbench run` without --out, study name ../../evil."""
    cohort = tmp_path / "cohort"
    write_synthetic_cohort(cohort, seed=1, n_controls=4, n_slow=3, n_fast=3, n_rois=6, n_gm=3)
    study = cohort / "evil.yaml"
    study.write_text("""\
name: ../../evil
data:
  maps: {qT1: maps/qT1.tsv}
  participants: participants.tsv
tasks:
  t: {classes: {HC: {group: HC}, ALS: {group: ALS}}}
cv: {outer: "stratified-kfold:2"}
permutations: 0
stages:
  - name: s
    classifiers: [KNN]
""", encoding="utf-8")
    work = tmp_path / "a" / "b" / "work"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    before = {p for p in tmp_path.rglob("*")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            cli.main(["run", str(study), "--jobs", "1", "--quiet"])
        except SystemExit as exc:
            assert exc.code == 0, capsys.readouterr()
    created = {p for p in tmp_path.rglob("*")} - before
    assert created, "the run wrote nothing"
    outside = [p for p in created if work not in p.parents and p != work]
    assert outside == [], outside
    assert (work / "evil-run" / "results.sqlite").exists()
    assert not (tmp_path / "evil-run").exists() and not (tmp_path / "a" / "evil-run").exists()


# --------------------------------------------------------------------------- no code from input
SOURCE = Path(cb.__file__).resolve().parent
DANGEROUS = re.compile(
    r"(?<![\w.])eval\(|(?<![\w.])exec\(|\bpickle\b|\bcloudpickle\b|\bdill\b|\bmarshal\b|"
    r"yaml\.load\(|yaml\.unsafe_load|yaml\.full_load|yaml\.Loader\b|yaml\.UnsafeLoader|"
    r"yaml\.FullLoader|\bshelve\b|__import__\(|(?<![\w.])compile\(|\bos\.system\(|"
    r"subprocess|shell=True|"
    r"pd\.read_pickle|read_pickle\(|\.to_pickle\(|np\.load\(|allow_pickle")

#: (file relative to the package, the exact source line stripped) -> why it is safe.
ALLOWED = {
    ("design/study_yaml.py",
     "return yaml.load(text, Loader=_StudyLoader)  # noqa: S506 - a SafeLoader subclass"):
        "_StudyLoader subclasses yaml.SafeLoader (checked below): only plain YAML types are "
        "built and tags such as !!python/object are refused.",
    ("execute/runner.py", "import pickle"):
        "only to serialise the user's own registered classifier entries (dumps, never loads), "
        "checking they can be sent to worker processes before a run starts.",
    ("execute/runner.py", "pickle.dumps(entry)"):
        "serialises the user's own registered classifier entry in memory to check it can be "
        "sent to worker processes; nothing read from input is unpickled.",
    ("execute/importance_record.py",
     '"""Serialise a record (``.npz``, masks bit-packed; read back without pickle)."""'):
        "a docstring saying the record is read back without pickle.",
    ("execute/importance_record.py",
     "with np.load(io.BytesIO(blob), allow_pickle=False) as data:"):
        "reads cohortbench's own .npz record with allow_pickle=False: plain arrays only.",
    ("execute/cost_probe.py", "import subprocess"):
        "the time estimate starts one Python process as a worker would, to time it.",
    ("execute/cost_probe.py",
     'self.process = subprocess.Popen([sys.executable, "-c", _IMPORTS],'):
        "runs this interpreter on a constant string of cohortbench imports (no shell, "
        "nothing from input), to time a worker's start-up.",
    ("execute/cost_probe.py", "stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,"):
        "the arguments of the worker probe above.",
}


def _dangerous_lines() -> dict[tuple[str, str], int]:
    found = {}
    for path in sorted(SOURCE.rglob("*.py")):
        relative = path.relative_to(SOURCE).as_posix()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]   # comments may name what the code avoids
            stripped = line.strip()
            if DANGEROUS.search(code):
                found[(relative, stripped)] = number
    return found


def test_no_eval_exec_pickle_or_unsafe_yaml_in_the_package():
    found = _dangerous_lines()
    unexpected = {k: v for k, v in found.items() if k not in ALLOWED}
    assert unexpected == {}, "\n".join(f"{f}:{n}: {line}" for (f, line), n in unexpected.items())
    stale = [k for k in ALLOWED if k not in found]
    assert stale == [], f"allowlist entries that no longer match: {stale}"


def test_the_allowed_yaml_loader_is_safe():
    import yaml

    from cohortbench.design import study_yaml

    assert issubclass(study_yaml._StudyLoader, yaml.SafeLoader)
    with pytest.raises(yaml.constructor.ConstructorError):
        yaml.load("!!python/object/apply:os.system ['echo pwned']", Loader=study_yaml._StudyLoader)


def test_the_expression_parser_never_calls_eval(monkeypatch):
    """Labels are computed by walking the ast: eval/exec are never reached, and compile
    only parses (``ast.parse`` is ``compile(..., PyCF_ONLY_AST)``), never builds code."""
    import ast
    import builtins

    from cohortbench.data.labels import evaluate_expression

    real_compile = builtins.compile
    calls = []

    def refuse(*args, **kwargs):
        calls.append("eval/exec")
        raise AssertionError("eval/exec called")

    def parse_only(source, filename, mode, flags=0, *args, **kwargs):
        if not flags & ast.PyCF_ONLY_AST:
            calls.append(f"compile to code ({mode})")
        return real_compile(source, filename, mode, flags, *args, **kwargs)

    monkeypatch.setattr(builtins, "eval", refuse)
    monkeypatch.setattr(builtins, "exec", refuse)
    monkeypatch.setattr(builtins, "compile", parse_only)
    table = pd.DataFrame({"alsfrs_r": [40.0, 30.0], "disease_months": [10.0, 20.0]})
    slope = evaluate_expression("(48 - alsfrs_r) / disease_months", table)
    monkeypatch.undo()
    assert calls == []
    assert slope.tolist() == [0.8, 0.9]
