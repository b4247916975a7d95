"""Figures of a shortcut run: encoding against gap over the sweep, and the mitigations' gaps.

As :mod:`racelens.shared.report.plots`: each function draws on the ``ax`` it is given (or a new
one, made with :class:`matplotlib.figure.Figure`, never pyplot) and returns it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from matplotlib.figure import Figure

from racelens.shared.shortcut import ShortcutResult

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_encoding_vs_gap", "plot_mitigation_gaps", "write_plot"]


def _est(d: Mapping[str, Any] | None) -> tuple[float, float, float]:
    if not d:
        return (math.nan,) * 3
    return tuple(math.nan if d.get(k) is None else float(d[k])  # type: ignore[return-value]
                 for k in ("estimate", "ci_low", "ci_high"))


def _err(est: float, lo: float, hi: float) -> list[float]:
    return [est - lo if math.isfinite(lo) else 0.0, hi - est if math.isfinite(hi) else 0.0]


def _new_ax(ax: Axes | None, size: tuple[float, float]) -> Axes:
    return ax if ax is not None else Figure(figsize=size).add_subplot()


def plot_encoding_vs_gap(result: ShortcutResult, ax: Axes | None = None) -> Axes:
    """Each sweep model's race encoding (x) against its fairness gap (y), intervals as bars,
    coloured by λ, with the fitted trend and the test's ρ and p in the title."""
    from matplotlib import colormaps

    ax = _new_ax(ax, (5.2, 4.2))
    scales = sorted({float(m.get("scale", 0.0)) for m in result.models})
    cmap = colormaps["coolwarm"]
    span = max(1e-9, max(scales) - min(scales)) if scales else 1.0
    for m in result.models:
        x, xl, xh = _est(m["encoding_auc"]["macro"])
        y, yl, yh = _est(m["gap"])
        s = float(m.get("scale", 0.0))
        ax.errorbar([x], [y], xerr=[[v] for v in _err(x, xl, xh)], yerr=[[v] for v in _err(y, yl, yh)],
                    fmt="o", ms=5, lw=0.8, capsize=2, color=cmap((s - min(scales)) / span))
    t = result.test
    xs = [_est(m["encoding_auc"]["macro"])[0] for m in result.models]
    xs = [x for x in xs if math.isfinite(x)]
    if xs and math.isfinite(t.slope):
        lo, hi = min(xs), max(xs)
        ax.plot([lo, hi], [t.slope * lo + t.intercept, t.slope * hi + t.intercept], "k--", lw=1,
                label="least-squares trend")
    for s in scales:
        ax.plot([], [], "o", color=cmap((s - min(scales)) / span), label=f"λ={s:g}")
    rho = "-" if not math.isfinite(t.spearman) else f"{t.spearman:.2f}"
    p = "-" if not math.isfinite(t.p_value) else f"{t.p_value:.2g}"
    ax.set_title(f"ρ = {rho} (p = {p}, {t.n_models} models)", fontsize=10)
    ax.set_xlabel("race encoding (probe AUC, macro)")
    ax.set_ylabel(f"{result.gap_metric} gap (max − min over groups)")
    ax.legend(loc="best", fontsize=7, ncol=2)
    return ax


def plot_mitigation_gaps(result: ShortcutResult, ax: Axes | None = None) -> Axes:
    """The fairness gap of each mitigation (and selection rule), with its interval."""
    ax = _new_ax(ax, (5.2, 3.6))
    rows = list(result.mitigations)
    for i, m in enumerate(rows):
        y, lo, hi = _est(m["gap"])
        ax.errorbar([y], [i], xerr=[[v] for v in _err(y, lo, hi)], fmt="s", capsize=3, color="#1f77b4")
    ax.set_yticks(range(len(rows)), [str(m["name"]) for m in rows])
    ax.invert_yaxis()
    ax.set_xlabel(f"{result.gap_metric} gap (max − min over groups)")
    return ax


def write_plot(result: ShortcutResult, path: Path) -> Path:
    """``shortcut.png``: the scatter and the mitigations side by side."""
    fig = Figure(figsize=(10.5, 4.2))
    plot_encoding_vs_gap(result, fig.add_subplot(1, 2, 1))
    plot_mitigation_gaps(result, fig.add_subplot(1, 2, 2))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return Path(path)
