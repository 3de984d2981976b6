import math

import numpy as np
import pandas as pd
import pytest

from cohortbench.analyse import top_performers
from cohortbench.report import figures as F

from .conftest import N_PERMUTATIONS


@pytest.fixture(scope="module")
def run(fake_run):
    return fake_run


def test_classifier_screen_data_threshold_and_log_axis(run):
    evaluations = run[0]
    fig, data = F.classifier_screen(evaluations, "screen", threshold=0.6)
    screen = evaluations[evaluations["stage"] == "screen"]
    assert len(data) == len(screen) == 8
    merged = data.merge(screen, on=["classifier", "task"], suffixes=("", "_e"))
    np.testing.assert_allclose(merged["accuracy"], merged["accuracy_e"])
    np.testing.assert_allclose(merged["seconds"], merged["seconds_e"])
    passes = screen.groupby("classifier")["accuracy"].min() >= 0.6
    expected = data["classifier"].map(passes)
    assert (data["highlight"] == expected).all()
    assert (data["above_threshold"] == (data["accuracy"] >= 0.6)).all()
    accuracy_ax, _, time_ax = fig.axes[:3]
    dashed = [line for line in accuracy_ax.get_lines() if line.get_linestyle() == "--"]
    assert len(dashed) == 1 and set(dashed[0].get_ydata()) == {0.6}
    assert dashed[0].get_color() == F.HIGHLIGHT
    assert time_ax.get_yscale() == "log"


def test_classifier_screen_keeps_the_best_of_duplicates(run):
    evaluations = run[0]
    screen = evaluations[evaluations["stage"] == "screen"]
    extra = screen.iloc[[0]].assign(evaluation_id="dup", accuracy=0.99)
    _, data = F.classifier_screen(pd.concat([screen, extra]), "screen", 0.6)
    assert len(data) == 8
    first = screen.iloc[0]
    row = data[(data["classifier"] == first["classifier"]) & (data["task"] == first["task"])]
    assert row["accuracy"].item() == 0.99


def _expected_top(frame, fraction=0.10):
    n_top = math.ceil(fraction * len(frame))
    ranked = frame.assign(_order=range(len(frame))).sort_values(
        ["accuracy", "z_score", "_order"], ascending=[False, False, True])
    return set(ranked["evaluation_id"][:n_top])


def test_step_strips_points_and_top_ten_percent(run):
    evaluations = run[0]
    fig, data = F.step_strips(evaluations, "refine", "MLR_L2", "3-class")
    frame = evaluations[(evaluations["stage"] == "refine") & (evaluations["classifier"] == "MLR_L2")
                        & (evaluations["task"] == "3-class")]
    assert len(frame) == 24
    assert list(dict.fromkeys(data["step"])) == ["row_scaling", "column_scaling",
                                                 "feature_selection", "n_features",
                                                 "dim_reduction"]
    counts = data.groupby("step").size()
    assert counts["row_scaling"] == 24 and counts["n_features"] == 16
    assert set(data.loc[data["step"] == "n_features", "option"]) == {"10", "50"}
    highlighted = set(data.loc[data["highlight"], "evaluation_id"])
    assert highlighted == _expected_top(frame) and len(highlighted) == 3
    # a configuration is highlighted in every panel or in none
    assert data.groupby("evaluation_id")["highlight"].nunique().max() == 1
    lookup = frame.set_index("evaluation_id")["accuracy"]
    np.testing.assert_allclose(data["accuracy"], lookup.loc[data["evaluation_id"]].to_numpy())
    row_panel = data[data["step"] == "row_scaling"]
    assert (row_panel["option"] == frame.set_index("evaluation_id").loc[
        row_panel["evaluation_id"], "row_scaling"].to_numpy()).all()
    assert len(fig.axes) == 10


def test_step_strips_pooled_highlights_over_all_classifiers(run):
    evaluations = run[0]
    _, data = F.step_strips_pooled(evaluations, "refine", "SvF")
    frame = evaluations[(evaluations["stage"] == "refine") & (evaluations["task"] == "SvF")]
    assert set(data["classifier"]) == {"MLR_L2", "SVM_LIN"}
    highlighted = set(data.loc[data["highlight"], "evaluation_id"])
    assert highlighted == _expected_top(frame) and len(highlighted) == 5


def test_top_fraction_counts_exactly_with_ties():
    frame = pd.DataFrame({"accuracy": [0.5] * 25, "z_score": [1.0] * 25})
    mask = F.top_fraction(frame)
    assert mask.sum() == 3 and mask[:3].all()
    assert F.top_fraction(frame.head(10)).sum() == 1
    assert F.top_fraction(pd.DataFrame({"accuracy": [0.2, 0.9, 0.5], "z_score": [0, 0, 0]})
                          ).tolist() == [False, True, False]


def test_step_strips_refuses_a_stage_without_varied_steps(run):
    with pytest.raises(ValueError, match="No pipeline step varies"):
        F.step_strips(run[0], "screen", "KNN", "SvF")


def test_top_performer_options_sums_over_classifiers(run):
    evaluations = run[0]
    _, frequencies = top_performers(evaluations, tasks=["3-class", "SvF"], stage="refine",
                                    min_accuracy=0.5, min_z=0.0)
    _, data = F.top_performer_options(frequencies)
    expected = frequencies.groupby(["step", "option", "tier"])["count"].sum()
    got = data.set_index(["step", "option", "tier"])["count"]
    pd.testing.assert_series_equal(got.sort_index(), expected.sort_index())
    assert (data["highlight"] == (data["tier"] == "strict")).all()


def test_search_strategies_data(run):
    evaluations = run[0]
    fig, data = F.search_strategies(evaluations, "tune")
    assert len(data) == 12 and set(data["search"]) == {"grid", "random", "bayes"}
    tune = evaluations[evaluations["stage"] == "tune"].set_index(["task", "classifier", "search"])
    np.testing.assert_allclose(
        data["z_score"], tune.loc[list(zip(data["task"], data["classifier"], data["search"])),
                                  "z_score"].to_numpy())
    assert fig.axes[-1].get_yscale() == "log"


def test_null_comparison_band_and_marker(run):
    evaluations, nulls = run[0], run[1]
    _, data = F.null_comparison(evaluations, nulls, "enrich")
    assert len(data) == 12 and (data["n_null"] == N_PERMUTATIONS).all()
    for _, row in data.iterrows():
        values = nulls.loc[nulls["evaluation_id"] == row["evaluation_id"], "accuracy"]
        assert row["null_q05"] == pytest.approx(np.quantile(values, 0.05))
        assert row["null_q95"] == pytest.approx(np.quantile(values, 0.95))
        assert row["highlight"] == (row["accuracy"] > row["null_q95"])
    assert set(data["view"]) == {f"{m}\n{p}" for m in ("qT1+DTI+Na", "qT1+DTI", "qT1+Na")
                                 for p in ("GM", "all")}


def test_render_smoke_png_and_svg(run, tmp_path):
    evaluations, nulls = run[0], run[1]
    weird = evaluations[evaluations["stage"] == "screen"].replace({"SvF": "cost$1 <b>"})
    for name, (fig, _) in {"screen": F.classifier_screen(weird, "screen", 0.6),
                           "null": F.null_comparison(evaluations, nulls, "enrich")}.items():
        paths = F.save_figure(fig, tmp_path / "figures", f"../{name} <x>")
        assert paths["png"].parent == tmp_path / "figures"
        assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        svg = paths["svg"].read_text()
        assert "<svg" in svg and paths["svg"].stat().st_size > 1000
        assert "<b>" not in svg and "<script" not in svg
