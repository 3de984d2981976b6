from html.parser import HTMLParser

import pandas as pd
import pytest

from cohortbench.analyse import FAMILYWISE_EXPLANATION, step_tests
from cohortbench.report import build_report, infer_stage_kind

from .conftest import EVIL

SECTIONS = ["how-to-read", "cohort", "excluded", "settings", "reductions", "stage-screen",
            "stage-refine", "stage-tune", "stage-enrich", "decisions", "warnings", "versions"]
FIGURES = ["figure-stage-screen-classifiers", "figure-stage-refine-pooled-3-class",
           "figure-stage-refine-pooled-svf", "figure-stage-refine-mlr-l2-3-class",
           "figure-stage-refine-svm-lin-svf", "figure-stage-refine-top-performers",
           "figure-stage-tune-search", "figure-stage-enrich-null"]


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


@pytest.fixture(scope="module")
def page(built_report):
    html = built_report.read_text(encoding="utf-8")
    parser = _Tags()
    parser.feed(html)
    return html, parser.tags


def test_sections_figures_and_files(built_report, page):
    html, tags = page
    ids = [attrs["id"] for _, attrs in tags if "id" in attrs]
    assert len(ids) == len(set(ids)), "ids must be unique"
    for wanted in SECTIONS + FIGURES:
        assert wanted in ids
    pngs = sorted((built_report.parent / "figures").glob("*.png"))
    svgs = sorted((built_report.parent / "figures").glob("*.svg"))
    assert len(pngs) == len(svgs) == 10
    assert all(p.stat().st_size > 1000 for p in pngs + svgs)
    images = [attrs for tag, attrs in tags if tag == "img"]
    assert len(images) == len(pngs)
    assert all(a["src"].startswith("data:image/png;base64,") and len(a["src"]) > 5000
               for a in images)
    kinds = {attrs["id"]: attrs.get("data-kind") for tag, attrs in tags if tag == "section"}
    assert [kinds[s] for s in ("stage-screen", "stage-refine", "stage-tune",
                               "stage-enrich")] == ["screen", "refine", "tune", "enrich"]


def test_nothing_is_loaded_from_outside(page):
    html, tags = page
    assert "http://" not in html and "https://" not in html
    for tag, attrs in tags:
        for key in ("src", "href", "srcset", "action", "data", "poster"):
            if key in attrs:
                value = attrs[key]
                assert value.startswith(("data:", "#", "figures/")), (tag, key, value)
    assert not [t for t, _ in tags if t in ("script", "iframe", "object", "embed")]
    assert not [a for t, a in tags if t == "link" and a.get("rel") != "icon"]


def test_user_text_is_escaped(page):
    html, _ = page
    assert EVIL not in html
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert f"<title>ALS demo {escaped}" in html
    assert f"<h1>ALS demo {escaped}</h1>" in html
    assert f"<td class=\"text\">{escaped}</td><td class=\"text\">missing FA map</td>" in html \
        or f"<td>{escaped}</td>" in html
    assert html.count(escaped) >= 10  # study, subject, class names, warning


def test_content_of_the_tables(fake_run, page):
    html, _ = page
    evaluations = fake_run[0]
    assert html.count(FAMILYWISE_EXPLANATION.split(",")[0]) == 4  # one per stage
    assert "After stage screen, MLR_L2, SVM_LIN were shortlisted (best accuracy at least 0.6" \
        in html  # the decision in words, not a dump of its settings
    assert "scikit-learn" in html and "20 permutations instead of 50" in html
    refine = html[html.index('id="stage-refine"'):html.index('id="stage-tune"')]
    assert refine.count("<h3>Per-step tests:") == 4
    table = step_tests(evaluations[evaluations["stage"] == "refine"])
    first = table.iloc[0]
    assert f"{first['median_difference']:+.1f} pp" in refine
    assert "kbest (k = 10)" in refine and "kbest (k = 50)" in refine
    cohort = html[html.index('id="cohort"'):html.index('id="settings"')]
    assert "187" in cohort and "not in the clinical table" in cohort and "0.62" in cohort


def test_stage_kind_inference_and_override(fake_run, tmp_path):
    evaluations, nulls, predictions, context = fake_run
    kinds = {stage: infer_stage_kind(frame) for stage, frame in evaluations.groupby("stage")}
    assert kinds == {"screen": "screen", "refine": "refine", "tune": "tune", "enrich": "enrich"}
    subset = evaluations[evaluations["stage"] == "tune"]
    path = build_report(tmp_path, evaluations=subset, nulls=nulls, predictions=predictions,
                        context={"study_name": "minimal"}, stage_kinds={"tune": "other"})
    html = path.read_text()
    assert 'data-kind="other"' in html and "Evaluations (first 50)" in html
    assert 'id="warnings"' in html and "No warnings." in html
    assert "figure-" not in html


def test_run_without_permutations_and_int64_n_features(fake_run, tmp_path):
    evaluations, _, predictions, _ = fake_run
    refine = evaluations[(evaluations["stage"] == "refine")
                         & (evaluations["classifier"] == "MLR_L2")].copy()
    refine["n_features"] = refine["n_features"].astype("Int64")
    refine[["null_mean", "null_std", "z_score", "p_value"]] = float("nan")
    refine["n_permutations"] = 0
    # one more classifier with a single pipeline: nothing to draw for it, no crash
    lone = refine.iloc[[0, 1]].assign(classifier="KNN", evaluation_id=["k1", "k2"])
    lone["task"] = ["3-class", "SvF"]
    lone["folds_id"] = "folds-" + lone["task"]
    frame = pd.concat([refine, lone], ignore_index=True)
    empty_nulls = pd.DataFrame(columns=["evaluation_id", "permutation", "accuracy"])
    path = build_report(tmp_path, evaluations=frame, nulls=empty_nulls,
                        predictions=predictions, context={"study_name": "no shuffles"})
    html = path.read_text()
    assert 'id="figure-stage-refine-mlr-l2-3-class"' in html
    assert "KNN, task SvF: no figure (No pipeline step varies" in html
    assert "Top performers: no configuration reached" in html
    assert html.count("<h3>Per-step tests:") == 2
    familywise = html[html.index('id="familywise-stage-refine"'):]
    assert "<td>0</td>" in familywise  # P = 0 shuffles, family-wise p shown as –
