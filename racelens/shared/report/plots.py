"""Figures for audit results: ROC per group, AUC against perturbation strength, group bars.

Each function draws on an ``ax`` it is given (or a new one) and returns it, as in fairlearn's
``plot_model_comparison``; nothing here calls ``plt.show``. Figures are made with
``matplotlib.figure.Figure`` directly, never through pyplot, so no GUI backend is touched, the
Agg canvas renders them on headless machines, and nothing piles up in pyplot's figure registry.

Conditions are ordered from the mildest to the strongest change within their family
(:mod:`racelens.shared.report.strength`), with ``original`` first. All AUC axes share one scale
(:data:`AUC_LIMITS`) with the chance line at 0.5, so imaging and text read side by side.

Example
-------
>>> ax = plot_auc_vs_strength([result])             # doctest: +SKIP
>>> ax.figure.savefig("auc_vs_strength.png")        # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from matplotlib.figure import Figure

from racelens.shared.report.strength import (
    families,
    family_ticks,
    family_title,
    number,
    series_label,
    strength_point,
    task_of,
)
from racelens.shared.results import AuditResult, Estimate

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "AUC_LIMITS",
    "series_colors",
    "plot_roc_per_group",
    "plot_auc_vs_strength",
    "plot_auc_panels",
    "plot_group_bars",
]

AUC_LIMITS = (0.4, 1.0)
CHANCE = 0.5
_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b",
           "#e377c2", "#7f7f7f", "#bcbd22")
_MARKERS = {"imaging": "o", "text": "s", "covariates": "D", "human": "^"}
# one colour per modality (matching the report's badges); repeats of a modality take the rest
_MODALITY_COLORS = {"imaging": "#1f77b4", "text": "#d62728", "covariates": "#2ca02c",
                    "human": "#9467bd"}

def _estimate(e: Estimate | Mapping[str, Any] | float | None) -> tuple[float, float, float]:
    if e is None:
        return (math.nan,) * 3
    if isinstance(e, Estimate):
        vals = (e.estimate, e.ci_low, e.ci_high)
    elif isinstance(e, Mapping):
        vals = (e.get("estimate"), e.get("ci_low"), e.get("ci_high"))
    else:
        vals = (e, None, None)
    est = number(vals[0])
    est = math.nan if est is None else est
    lo, hi = (number(v) for v in vals[1:])
    return est, (est if lo is None else lo), (est if hi is None else hi)


def series_colors(results: Sequence[AuditResult]) -> list[str]:
    """A colour per result: its modality's colour first, then unused palette colours."""
    spare = [c for c in _COLORS if c not in _MODALITY_COLORS.values()]
    used: set[str] = set()
    out = []
    for r in results:
        c = _MODALITY_COLORS.get(r.modality)
        if c is None or c in used:
            c = spare[len(out) % len(spare)]
        used.add(c)
        out.append(c)
    return out


def _new_ax(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    if ax is not None:
        return ax
    fig = Figure(figsize=figsize, layout="constrained")
    return fig.add_subplot()


def _auc_axis(ax: Axes, ylabel: str = "race-prediction AUC (macro)") -> None:
    ax.set_ylim(*AUC_LIMITS)
    ax.axhline(CHANCE, color="0.45", linestyle="--", linewidth=1.0, zorder=1)
    ax.text(1.0, CHANCE, " chance", transform=ax.get_yaxis_transform(), va="center",
            ha="left", fontsize=7, color="0.35", clip_on=False)
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", color="0.9", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def plot_roc_per_group(roc: Mapping[str, Mapping[str, Sequence[float]]], ax: Axes | None = None,
                       title: str | None = None, *,
                       aucs: Mapping[str, Any] | None = None) -> Axes:
    """One-vs-rest ROC curve per group.

    Parameters
    ----------
    roc
        ``{group: {"fpr": [...], "tpr": [...]}}`` as stored in a condition's ``extras.roc``.
    ax
        Axes to draw on; a new figure is made when omitted.
    title
        Axes title.
    aucs
        Optional AUC per group (a number or an estimate dict) shown in the legend.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _new_ax(ax, (4.2, 4.0))
    ax.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=1.0, label="chance")
    for i, (group, curve) in enumerate(roc.items()):
        fpr, tpr = list(curve.get("fpr", [])), list(curve.get("tpr", []))
        if not fpr or len(fpr) != len(tpr):
            continue
        label = str(group)
        if aucs is not None and group in aucs:
            est = _estimate(aucs[group])[0]
            if not math.isnan(est):
                label = f"{group} (AUC {est:.3f})"
        ax.plot(fpr, tpr, color=_COLORS[i % len(_COLORS)], linewidth=1.6, label=label)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.0)
    ax.set_aspect("equal")
    ax.set_xlabel("false-positive rate")
    ax.set_ylabel("true-positive rate")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def _references(results: Sequence[AuditResult], labels: Sequence[str]) -> list[tuple[int, float]]:
    """Results with nothing but ``original`` (covariate baselines): drawn as reference lines."""
    out = []
    for i, r in enumerate(results):
        if all(c.name == "original" for c in r.conditions) and r.conditions:
            out.append((i, _estimate(r.conditions[0].auc.macro)[0]))
    return out


def plot_auc_vs_strength(results: Sequence[AuditResult], ax: Axes | None = None, *,
                         family: str | None = None, labels: Sequence[str] | None = None,
                         legend: bool = True) -> Axes:
    """Macro AUC against perturbation strength (or redaction level), with 95% intervals.

    Conditions are placed mild to strong from left to right, ``original`` first, on a shared
    AUC axis (0.4–1.0) with the chance line at 0.5. With ``family=None`` every family present is
    drawn in its own block of the x axis; results holding only ``original`` (covariate
    baselines) are drawn as horizontal reference lines.

    Parameters
    ----------
    results
        Audit results of any modality.
    ax
        Axes to draw on; a new figure is made when omitted.
    family
        Draw one family only (e.g. ``"lowpass"``).
    labels
        Legend name per result (default :func:`series_label`).
    legend
        Whether to draw the legend.

    Returns
    -------
    matplotlib.axes.Axes
    """
    labels = list(labels) if labels is not None else [series_label(r) for r in results]
    fams = [family] if family is not None else families(results)
    ax = _new_ax(ax, (max(4.5, 2.2 * len(fams) + 2.5), 3.8))
    tasks = {task_of(r) for r in results}
    task = tasks.pop() if len(tasks) == 1 else None
    _auc_axis(ax, f"{task} AUC (macro)" if task else "race-prediction AUC (macro)")
    ticks: list[tuple[float, str]] = []
    offset = 0.0
    n_series = max(1, len(results))
    labelled: set[int] = set()
    colors = series_colors(results)
    for fam in fams:
        order = family_ticks(results, fam)  # union across results, mild -> strong
        if not order:
            continue
        # a family whose axis places the original condition itself (notes: level "none")
        # starts there; others start at an unplaced "original" point
        has_original = not any(c.name == "original" and (sp := strength_point(c, r.modality))
                               is not None and sp.family == fam
                               for r in results for c in r.conditions)
        pos = {t: offset + i + (1 if has_original else 0) for i, t in enumerate(order)}
        if has_original:
            ticks.append((offset, "original"))
        ticks.extend((p, t) for t, p in pos.items())
        for i, r in enumerate(results):
            xs, ys, lo, hi = [], [], [], []
            in_family = any((sp := strength_point(c, r.modality)) is not None and sp.family == fam
                            for c in r.conditions)
            for c in r.conditions:
                sp = strength_point(c, r.modality)
                if sp is not None and sp.family == fam:
                    x = pos[sp.tick]
                elif sp is None and has_original and in_family:
                    x = offset
                else:
                    continue
                est, low, high = _estimate(c.auc.macro)
                xs.append(x + (i - (n_series - 1) / 2) * 0.08)
                ys.append(est)
                lo.append(max(0.0, est - low))
                hi.append(max(0.0, high - est))
            if not xs:
                continue
            srt = sorted(range(len(xs)), key=xs.__getitem__)
            xs, ys = [xs[j] for j in srt], [ys[j] for j in srt]
            lo, hi = [lo[j] for j in srt], [hi[j] for j in srt]
            color = colors[i]
            ax.errorbar(xs, ys, yerr=[lo, hi], color=color, marker=_MARKERS.get(r.modality, "o"),
                        markersize=5, linewidth=1.5, capsize=3, elinewidth=1.0,
                        label=None if i in labelled else labels[i], zorder=3)
            labelled.add(i)
        n_cats = len(order) + (1 if has_original else 0)
        if len(fams) > 1:
            ax.text(offset + (n_cats - 1) / 2, 0.985, family_title(results, fam),
                    transform=ax.get_xaxis_transform(), ha="center", va="top", fontsize=8,
                    color="0.25")
        offset += n_cats + 0.6
        if fam != fams[-1] and len(fams) > 1:
            ax.axvline(offset - 0.8, color="0.8", linewidth=0.8)
    for i, est in _references(results, labels):
        if not math.isnan(est):
            ax.axhline(est, color=colors[i], linestyle=":", linewidth=1.4,
                       label=f"{labels[i]} (original)", zorder=2)
    if ticks:
        long = max(len(t) for _, t in ticks) > 8
        ax.set_xticks([p for p, _ in ticks], [t for _, t in ticks], fontsize=8,
                      rotation=30 if long else 0, ha="right" if long else "center",
                      rotation_mode="anchor")
        ax.set_xlim(min(p for p, _ in ticks) - 0.5, max(p for p, _ in ticks) + 0.5)
    else:
        ax.set_xticks([])
    if family is not None:
        ax.set_title(family_title(results, family), fontsize=10)
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, frameon=False, loc="lower left")
    return ax


def plot_auc_panels(results: Sequence[AuditResult], fig: Figure | None = None, *,
                    labels: Sequence[str] | None = None, ncols: int | None = None) -> Figure:
    """One panel per family, all on one shared AUC axis, and one legend for the figure.

    Parameters
    ----------
    results
        Audit results of any modality.
    fig
        Figure to draw in; a new one is made when omitted.
    labels
        Legend name per result (default :func:`series_label`).
    ncols
        Panels per row (default: all in one row up to three, two rows of two for four).

    Returns
    -------
    matplotlib.figure.Figure
    """
    fams = families(results) or [None]
    if ncols is None:
        ncols = 2 if len(fams) == 4 else 3
    ncols = max(1, min(ncols, len(fams)))
    nrows = math.ceil(len(fams) / ncols)
    if fig is None:
        fig = Figure(figsize=(3.6 * ncols + 0.6, 3.0 * nrows + 0.9), layout="constrained")
    # in one row, a panel's width follows its number of conditions (10 proxy steps need room)
    widths = ([max(4, len(family_ticks(results, f)) + 1) for f in fams]
              if nrows == 1 and fams != [None] else None)
    axes = fig.subplots(nrows, ncols, sharey=True, squeeze=False,
                        gridspec_kw={"width_ratios": widths} if widths else None).ravel()
    for ax, fam in zip(axes, fams, strict=False):
        plot_auc_vs_strength(results, ax, family=fam, labels=labels, legend=False)
        if fam is None:
            ax.set_title("original only", fontsize=10)
    for j, ax in enumerate(axes):
        if j >= len(fams):
            ax.set_visible(False)
        elif j % ncols:
            ax.set_ylabel("")
    handles: dict[str, Any] = {}
    for ax in axes[: len(fams)]:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(lab, h)
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="outside lower center",
                   ncol=min(4, len(handles)), fontsize=8, frameon=False)
    return fig


def plot_group_bars(values: Mapping[str, Estimate | Mapping[str, Any] | float],
                    ax: Axes | None = None, title: str | None = None, *, ylabel: str = "",
                    ylim: tuple[float, float] | None = None,
                    reference: float | None = None) -> Axes:
    """One bar per group, with its interval when the values carry one.

    Parameters
    ----------
    values
        ``{group: value}``; a value is a number, an :class:`Estimate` or an estimate dict.
    ax
        Axes to draw on; a new figure is made when omitted.
    title, ylabel
        Labels.
    ylim
        Y limits (e.g. :data:`AUC_LIMITS`); default from the data.
    reference
        A horizontal reference line (e.g. 0.5 for AUC).

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _new_ax(ax, (max(3.0, 0.8 * len(values) + 1.5), 3.0))
    groups = list(values)
    ests = [_estimate(values[g]) for g in groups]
    heights = [e[0] for e in ests]
    err = [[max(0.0, e[0] - e[1]) for e in ests], [max(0.0, e[2] - e[0]) for e in ests]]
    colors = [_COLORS[i % len(_COLORS)] for i in range(len(groups))]
    bottom = ylim[0] if ylim else 0.0
    ax.bar(groups, [h - bottom for h in heights], bottom=bottom, color=colors, alpha=0.85,
           yerr=err if any(any(x) for x in err) else None, capsize=3, width=0.6)
    if ylim:
        ax.set_ylim(*ylim)
    if reference is not None:
        ax.axhline(reference, color="0.45", linestyle="--", linewidth=1.0)
    ax.set_ylabel(ylabel)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if title:
        ax.set_title(title, fontsize=10)
    return ax

