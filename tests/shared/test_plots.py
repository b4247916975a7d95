"""Plots: what each function draws, read back from the returned matplotlib objects."""

from __future__ import annotations

import io

import numpy as np
import pytest
from _report_fixtures import GROUPS, covariate_result, imaging_result, roc_curve, text_result
from matplotlib.figure import Figure
from PIL import Image

from racelens.shared.report import plots, strength
from racelens.shared.results import Condition, ConditionResult, Estimate


def _line_ys(ax) -> list[list[float]]:
    return [list(map(float, ln.get_ydata())) for ln in ax.get_lines()]


def _series_ys(ax) -> list[list[float]]:
    """The y values of each error-bar series (not its caps)."""
    return [list(map(float, c.lines[0].get_ydata())) for c in ax.containers]


def test_roc_per_group_draws_each_curve_and_chance_on_given_ax():
    roc = {g: roc_curve(0.9) for g in GROUPS}
    fig = Figure()
    ax = fig.add_subplot()
    out = plots.plot_roc_per_group(roc, ax, title="original", aucs={"Asian": {"estimate": 0.91}})
    assert out is ax
    lines = ax.get_lines()
    assert len(lines) == 1 + len(GROUPS)  # chance diagonal + one per group
    assert list(lines[0].get_xdata()) == [0, 1]
    assert list(lines[1].get_ydata()) == roc["Asian"]["tpr"]
    labels = ax.get_legend_handles_labels()[1]
    assert labels == ["chance", "Asian (AUC 0.910)", "Black", "White"]
    assert ax.get_title() == "original"
    assert ax.get_xlim() == (0.0, 1.0)


def test_roc_skips_malformed_curves():
    ax = plots.plot_roc_per_group({"A": {"fpr": [0, 1], "tpr": [0]}, "B": {"fpr": [0, 1], "tpr": [0, 1]}})
    assert ax.get_legend_handles_labels()[1] == ["chance", "B"]


def test_strength_order_is_mild_to_strong():
    def sp(name, params, modality="imaging"):
        c = ConditionResult(Condition(name, params), imaging_result().conditions[0].auc, 0.1, 10)
        return strength.strength_point(c, modality)

    assert sp("original", {}) is None
    low = sorted([sp("lowpass", {"radius": r}) for r in (1, 50, 10)], key=lambda s: s.key)
    assert [s.tick for s in low] == ["50", "10", "1"]  # small radius = strong low-pass
    high = sorted([sp("highpass", {"radius": r}) for r in (150, 50)], key=lambda s: s.key)
    assert [s.tick for s in high] == ["50", "150"]
    text = [sp("strip_proxies", {"level": "extended", "k": 20}, "text"),
            sp("redact", {"level": "extended"}, "text"), sp("original", {}, "text"),
            sp("redact", {"level": "explicit"}, "text")]
    assert {s.family for s in text} == {"redaction"}
    assert [s.tick for s in sorted(text, key=lambda s: s.key)] == [
        "none", "explicit", "extended", "−20"]
    assert sp("strip_proxies", {"level": "explicit", "k": 5}, "text").tick == "−5 (explicit)"
    assert sp("patch", {"grid": 3, "index": 4}).tick == "4"
    assert sp("clip", {"mode": "bone"}).tick == "mode=bone"


def test_families_in_fixed_order():
    assert strength.families([text_result(), imaging_result()]) == [
        "lowpass", "highpass", "resolution", "redaction"]
    assert strength.families([covariate_result()]) == []


def test_auc_vs_strength_single_family_values_and_intervals():
    r = imaging_result()
    ax = plots.plot_auc_vs_strength([r], family="lowpass")
    assert ax.get_ylim() == plots.AUC_LIMITS
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks == ["original", "50", "10", "1"]
    assert _series_ys(ax) == [[0.96, 0.93, 0.84, 0.55]]
    assert [0.5, 0.5] in _line_ys(ax)  # chance line
    # error bars span each condition's CI
    bars = ax.containers[0]
    segs = bars.lines[2][0].get_segments()
    assert [tuple(np.round(s[:, 1], 4)) for s in segs] == [
        (0.94, 0.98), (0.91, 0.95), (0.82, 0.86), (0.53, 0.57)]


def test_auc_vs_strength_all_families_one_axis_with_covariate_reference():
    results = [imaging_result(), text_result(), covariate_result()]
    ax = plots.plot_auc_vs_strength(results, labels=["img", "txt", "cov"])
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks.count("original") == 3 and "none" in ticks and "explicit" in ticks
    assert [0.61, 0.61] in _line_ys(ax)  # covariate baseline as a reference line
    labels = ax.get_legend_handles_labels()[1]
    assert labels == ["cov (original)", "img", "txt"]
    assert _series_ys(ax) == [[0.96, 0.93, 0.84, 0.55], [0.96, 0.9, 0.87, 0.58], [0.96, 0.8],
                              [0.99, 0.74, 0.7, 0.63, 0.56]]


def test_auc_panels_one_panel_per_family_shared_y():
    fig = plots.plot_auc_panels([imaging_result(), text_result(), covariate_result()])
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == [strength.FAMILY_TITLES[f] for f in
                                                  ("lowpass", "highpass", "resolution", "redaction")]
    assert {ax.get_ylim() for ax in visible} == {plots.AUC_LIMITS}
    assert len(fig.legends) == 1
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=40)
    img = np.asarray(Image.open(buf).convert("L"), dtype=float)
    assert img.std() > 10  # something was drawn


def test_auc_panels_with_only_original_results():
    fig = plots.plot_auc_panels([covariate_result()])
    assert [ax.get_title() for ax in fig.axes] == ["original only"]


@pytest.mark.parametrize("values", [
    {"A": 0.2, "B": 0.5},
    {"A": Estimate(0.2, 0.1, 0.3), "B": Estimate(0.5, 0.4, 0.6)},
    {"A": {"estimate": 0.2, "ci_low": 0.1, "ci_high": 0.3}, "B": {"estimate": 0.5}},
])
def test_group_bars_heights(values):
    ax = plots.plot_group_bars(values, title="t", ylabel="rate", reference=0.5)
    assert [round(p.get_height(), 6) for p in ax.patches] == [0.2, 0.5]
    assert ax.get_title() == "t" and ax.get_ylabel() == "rate"


def test_group_bars_from_an_auc_floor():
    ax = plots.plot_group_bars({"A": 0.9}, ylim=plots.AUC_LIMITS)
    (bar,) = ax.patches
    assert (bar.get_y(), round(bar.get_y() + bar.get_height(), 6)) == (0.4, 0.9)
