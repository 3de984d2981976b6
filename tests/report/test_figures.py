import io
import math

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection, PathCollection, PolyCollection
from matplotlib.container import ErrorbarContainer
from matplotlib.patches import Rectangle
from scipy import stats

from cohortbench.analyse import top_performers
from cohortbench.report import figures as F
from cohortbench.report import strip_figures
from cohortbench.report.figure_marks import decade_limits

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


# --- issue 18: intervals, zero stubs, run times, counts, strips, flags, the null figure ---

def _errorbar_segments(ax):
    """(x, low, high) of every interval bar drawn on ``ax``."""
    out = []
    for container in ax.containers:
        if isinstance(container, ErrorbarContainer):
            for segment in container.lines[2][0].get_segments():
                out.append((segment[0][0], min(segment[:, 1]), max(segment[:, 1])))
    return sorted(out)


def _bar_centres(ax):
    return sorted(p.get_x() + p.get_width() / 2 for p in ax.patches
                  if isinstance(p, Rectangle) and p.get_height() > 0)


def _with(evaluations, mask, **values):
    frame = evaluations.copy()
    for column, value in values.items():
        if column == "numerically_reliable":
            flags = frame[column].astype("boolean")
            flags[mask] = value
            frame[column] = flags
        else:
            frame.loc[mask, column] = value
    return frame


def test_screen_intervals_are_the_binomial_interval_drawn_as_error_bars(run):
    evaluations = run[0]
    fig, data = F.classifier_screen(evaluations, "screen", 0.6)
    for row in data.itertuples():
        # screen accuracies are k/30: the fixture's interval is scipy's Wilson interval
        k = round(row.accuracy * 30)
        ci = stats.binomtest(k, 30).proportion_ci(method="wilson")
        assert (row.accuracy_ci_low, row.accuracy_ci_high) == pytest.approx((ci.low, ci.high))
    drawn = _errorbar_segments(fig.axes[0])
    assert len(drawn) == len(data)
    np.testing.assert_allclose(sorted(low for _, low, _ in drawn),
                               np.sort(data["accuracy_ci_low"]))
    np.testing.assert_allclose(sorted(high for _, _, high in drawn),
                               np.sort(data["accuracy_ci_high"]))
    # each interval bar stands on its own accuracy bar
    np.testing.assert_allclose([x for x, _, _ in drawn], _bar_centres(fig.axes[0]))


def _render(fig) -> bytes:
    """A cheap full render (PNG at low resolution; the SVG path is covered above)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=40)
    return buffer.getvalue()


def test_an_old_store_without_intervals_draws_no_error_bars(run):
    evaluations = run[0].drop(columns=["accuracy_ci_low", "accuracy_ci_high",
                                       "numerically_reliable"])
    for fig, data in (F.classifier_screen(evaluations, "screen", 0.6),
                      F.search_strategies(evaluations, "tune"),
                      F.null_comparison(evaluations, run[1], "enrich"),
                      F.step_strips(evaluations, "refine", "MLR_L2", "SvF")):
        assert data["accuracy_ci_low"].isna().all() and data["accuracy_ci_high"].isna().all()
        assert not data["unreliable"].any()
        assert all(_errorbar_segments(ax) == [] for ax in fig.axes)
        _render(fig)


def test_a_zero_accuracy_gets_a_visible_stub_and_its_value(run):
    evaluations = run[0]
    screen = evaluations.index[evaluations["stage"] == "screen"]
    zeroed = _with(evaluations, [screen[1]], accuracy=0.0, accuracy_ci_low=0.0,
                   accuracy_ci_high=0.1135)
    fig, data = F.classifier_screen(zeroed, "screen", 0.6)
    target = evaluations.loc[screen[1]]
    is_target = (data["classifier"] == target["classifier"]) & (data["task"] == target["task"])
    assert data["zero_stub"].tolist() == is_target.tolist()
    ax = fig.axes[0]
    stubs = [c for c in ax.collections if isinstance(c, LineCollection)
             and all(np.allclose(s[:, 1], 0) for s in c.get_segments())]
    (stub,) = stubs
    (segment,) = stub.get_segments()
    assert segment[1, 0] - segment[0, 0] > 0.3  # as wide as the bar (0.4 for two tasks)
    assert not stub.get_clip_on()  # never cut by the axis frame
    assert ax.get_ylim()[0] < 0  # room below the stub
    texts = [t for t in ax.texts if t.get_text() == "0.00"]
    assert len(texts) == 1 and texts[0].get_position()[1] > 0.1135
    # the same in the search-strategy figure, and nothing for non-zero accuracies
    tune = evaluations.index[evaluations["stage"] == "tune"]
    _, data = F.search_strategies(_with(evaluations, [tune[0]], accuracy=0.0), "tune")
    assert data["zero_stub"].sum() == 1 and (data.loc[data["zero_stub"], "accuracy"] == 0).all()


def test_run_times_are_points_on_a_log_axis_from_a_round_decade(run):
    evaluations = run[0]
    screen = evaluations["stage"] == "screen"
    close = _with(evaluations, screen, seconds=np.linspace(5.22, 5.31, screen.sum()))
    fig, data = F.classifier_screen(close, "screen", 0.6)
    time_ax = fig.axes[2]
    assert time_ax.get_yscale() == "log"
    assert not [p for p in time_ax.patches if isinstance(p, Rectangle)]  # no bars
    plotted = np.concatenate([c.get_offsets()[:, 1] for c in time_ax.collections])
    np.testing.assert_allclose(np.sort(plotted), np.sort(data["seconds"]))
    assert time_ax.get_ylim() == pytest.approx((1.0, 10.0))
    # 5.22 s and 5.31 s sit less than 1 % of the axis height apart
    assert math.log10(5.31 / 5.22) / math.log10(10.0) < 0.01


@pytest.mark.parametrize("values, limits", [
    ([5.22, 5.31], (1.0, 10.0)), ([0.05, 30.0], (0.01, 100.0)), ([10.0], (1.0, 100.0)),
    ([0.0, -1.0, np.nan], (0.1, 10.0)), ([2.0, 3.0], (1.0, 10.0))])
def test_decade_limits(values, limits):
    low, high = decade_limits(values)
    assert (low, high) == pytest.approx(limits)
    positive = [v for v in values if v > 0]
    assert all(low < v < high for v in positive)
    assert math.log10(low) == round(math.log10(low))  # round decades


def _visible_ticks(ax):
    low, high = ax.get_ylim()
    return [t for t in ax.get_yticks() if low <= t <= high]


def test_top_performer_counts_have_whole_number_ticks():
    one = pd.DataFrame({
        "tier": ["top", "top", "top", "strict"],
        "step": ["row_scaling"] * 2 + ["dim_reduction"] * 2,
        "option": ["none", "standard", "pca", "pca"], "classifier": "SVM_LIN",
        "count": [0, 1, 1, 1], "fraction": [0.0, 1.0, 1.0, 1.0]})
    fig, data = F.top_performer_options(one)
    assert data["count"].max() == 1
    for ax in fig.axes:
        assert _visible_ticks(ax) == [0, 1]
    # every top-tier count is written, the 0 too
    assert sorted(t.get_text() for t in fig.axes[0].texts) == ["0", "1"]
    many = one.assign(count=[3, 7, 5, 2])
    fig, _ = F.top_performer_options(many)
    ticks = _visible_ticks(fig.axes[0])
    assert len(ticks) >= 3 and all(float(t).is_integer() for t in ticks)
    assert fig.axes[0].get_ylim()[1] > 7


def _marker_radius_px(ax, points):
    return points / 2 * ax.figure.dpi / 72


def test_strip_markers_are_large_jittered_deterministically_and_never_clipped(run):
    evaluations = run[0]
    frame = evaluations[(evaluations["stage"] == "refine") & (evaluations["classifier"] == "MLR_L2")
                        & (evaluations["task"] == "3-class")]
    fig, data = F.step_strips(evaluations, "refine", "MLR_L2", "3-class")
    _, again = F.step_strips(evaluations, "refine", "MLR_L2", "3-class")
    pd.testing.assert_frame_equal(data, again)  # seeded jitter
    offset = (data["x"] - data["x"].round()).round(12)
    assert offset.abs().max() <= strip_figures.JITTER and offset.std() > 0.05
    # one jitter per configuration, the same in every panel
    assert (data.assign(o=offset).groupby("evaluation_id")["o"].nunique() == 1).all()
    assert data["marker_size"].min() >= 5
    assert (data.loc[data["highlight"], "marker_size"] > data["marker_size"].min()).all()
    # the strip's intervals are the evaluations' own
    lookup = frame.set_index("evaluation_id")
    np.testing.assert_allclose(data["accuracy_ci_low"],
                               lookup.loc[data["evaluation_id"], "accuracy_ci_low"])
    fig.draw_without_rendering()
    steps = list(dict.fromkeys(data["step"]))
    for r, step in enumerate(steps):
        part = data[data["step"] == step]
        for c, value in enumerate(["accuracy", "z_score"]):
            ax = fig.axes[2 * r + c]
            sizes = np.concatenate([coll.get_sizes() for coll in ax.collections
                                    if isinstance(coll, PathCollection)])
            assert sizes.min() >= 25  # s is the squared diameter in points: ≥ 5 pt
            if value == "accuracy":
                assert len(_errorbar_segments(ax)) == len(part)
            # every marker lies wholly inside the axes, with its radius to spare
            pixels = ax.transData.transform(np.column_stack([part["x"], part[value]]))
            box, radius = ax.bbox, _marker_radius_px(ax, data["marker_size"].max())
            assert (pixels[:, 0] - radius > box.x0).all() and (pixels[:, 0] + radius < box.x1).all()
            assert (pixels[:, 1] - radius > box.y0).all() and (pixels[:, 1] + radius < box.y1).all()


def test_a_zero_accuracy_in_a_strip_is_inside_the_axes(run):
    evaluations = run[0]
    refine = evaluations.index[(evaluations["stage"] == "refine")
                               & (evaluations["classifier"] == "MLR_L2")
                               & (evaluations["task"] == "SvF")]
    fig, data = F.step_strips(_with(evaluations, [refine[0]], accuracy=0.0, accuracy_ci_low=0.0),
                              "refine", "MLR_L2", "SvF")
    ax = fig.axes[0]
    assert ax.get_ylim()[0] <= -0.02 and data["accuracy"].min() == 0


def test_numerically_unreliable_cells_are_drawn_hollow_with_a_legend(run):
    evaluations = run[0]
    flagged = ((evaluations["stage"].isin(["refine", "screen"]))
               & (evaluations["row_scaling"] == "none")) | (evaluations["classifier"] == "KNN")
    marked = _with(evaluations, flagged, numerically_reliable=False)
    fig, data = F.step_strips(marked, "refine", "MLR_L2", "3-class")
    expected = marked.set_index("evaluation_id").loc[data["evaluation_id"], "row_scaling"] == "none"
    assert data["unreliable"].tolist() == expected.tolist() and data["unreliable"].any()
    assert any(F.UNRELIABLE_LABEL == t.get_text() for legend in fig.legends
               for t in legend.get_texts())
    ax = fig.axes[0]
    hollow = [c for c in ax.collections if isinstance(c, PathCollection)
              and len(c.get_facecolors()) == 0]
    drawn = np.concatenate([c.get_offsets()[:, 0] for c in hollow])
    part = data[data["step"] == "row_scaling"]
    np.testing.assert_allclose(np.sort(drawn), np.sort(part.loc[part["unreliable"], "x"]))
    # bars: hatched and hollow in the screen figure
    fig, data = F.classifier_screen(marked, "screen", 0.6)
    assert data["unreliable"].tolist() == (data["classifier"] == "KNN").tolist()
    hatched = [p for p in fig.axes[0].patches if p.get_hatch()]
    assert len(hatched) == data["unreliable"].sum()
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert F.UNRELIABLE_LABEL in texts
    # a CSV round trip writes the flag as text; all-NA or absent flags change nothing
    as_text = marked.assign(numerically_reliable=marked["numerically_reliable"].astype(str))
    assert F.classifier_screen(as_text, "screen", 0.6)[1]["unreliable"].sum() == 2
    fig, data = F.classifier_screen(evaluations, "screen", 0.6)
    assert not data["unreliable"].any()
    assert F.UNRELIABLE_LABEL not in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert not [p for p in fig.axes[0].patches if p.get_hatch()]


def _all_texts(fig):
    texts = [fig.get_suptitle()]
    for ax in fig.axes:
        texts += [ax.get_title(), ax.get_ylabel(), ax.get_xlabel()]
        texts += [t.get_text() for t in ax.get_xticklabels() + ax.texts]
        if ax.get_legend() is not None:
            texts += [t.get_text() for t in ax.get_legend().get_texts()]
    return " ".join(texts).lower()


def test_null_comparison_shows_the_interval_and_claims_nothing(run):
    evaluations, nulls = run[0], run[1]
    fig, data = F.null_comparison(evaluations, nulls, "enrich")
    enrich = evaluations[evaluations["stage"] == "enrich"].set_index("evaluation_id")
    np.testing.assert_allclose(data["p_value"], enrich.loc[data["evaluation_id"], "p_value"])
    np.testing.assert_allclose(data["accuracy_ci_high"],
                               enrich.loc[data["evaluation_id"], "accuracy_ci_high"])
    words = _all_texts(fig)
    for claim in ("above", "band", "signific", "chance", "5–95"):
        assert claim not in words
    for ax in fig.axes:
        assert not [c for c in ax.collections if isinstance(c, PolyCollection)]  # no band
        segments = _errorbar_segments(ax)
        task = ax.get_title().removeprefix("task ")
        part = data[data["task"] == task]
        assert len(segments) == len(part) == 6
        np.testing.assert_allclose(sorted(s[1] for s in segments),
                                   np.sort(part["accuracy_ci_low"]))
        # the null dots (≥ 5 pt) and the real accuracy sit side by side, not on top
        nulls_x = np.concatenate([c.get_offsets()[:, 0] for c in ax.collections
                                  if len(c.get_offsets()) == N_PERMUTATIONS])
        real_x = [s[0] for s in segments]
        assert max(nulls_x - np.round(nulls_x)) < min(np.array(real_x) - np.round(real_x))
        assert ax.get_ylim()[0] < 0 < 1 < ax.get_ylim()[1]


def test_render_smoke_every_figure_with_flags_and_zeros(run):
    evaluations, nulls = run[0], run[1]
    marked = _with(evaluations, evaluations["row_scaling"] == "none",
                   numerically_reliable=False)
    marked = _with(marked, marked.index[:3], accuracy=0.0, accuracy_ci_low=0.0)
    _, frequencies = top_performers(marked, tasks=["3-class", "SvF"], stage="refine",
                                    min_accuracy=0.5, min_z=0.0)
    made = {"screen": F.classifier_screen(marked, "screen", 0.6),
            "strips": F.step_strips(marked, "refine", "SVM_LIN", "SvF"),
            "top": F.top_performer_options(frequencies),
            "search": F.search_strategies(marked, "tune"),
            "null": F.null_comparison(marked, nulls, "enrich")}
    for fig, _ in made.values():
        assert _render(fig)[:8] == b"\x89PNG\r\n\x1a\n"
