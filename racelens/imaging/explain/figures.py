"""Figures of ``imaging explain``: spectrum bars, tile heat maps, attribution maps, deletion curve.

As :mod:`racelens.shared.report.plots`: each plot function takes an ``ax`` (made when ``None``)
and returns it. Maps are drawn on a neutral frame unless a mean test image (an aggregate of at
least 100 images) is given, and the axes say which.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from racelens.shared.report.plots import AUC_LIMITS, CHANCE

if TYPE_CHECKING:
    from matplotlib.axes import Axes

# write.py's ExplainResult; typed Any because write.py imports this module to draw the figures
ExplainResult = Any

__all__ = ["plot_spectrum", "plot_tile_map", "plot_mass_map", "plot_attribution_map",
           "plot_deletion", "write_figures"]


def _ax(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    if ax is not None:
        return ax
    from matplotlib.figure import Figure

    return Figure(figsize=figsize).add_subplot()


def _est(block: Mapping[str, Any] | None) -> tuple[float, float, float]:
    m = (block or {}).get("macro", {})
    vals = [m.get(k) for k in ("estimate", "ci_low", "ci_high")]
    return tuple(float("nan") if v is None else float(v) for v in vals)  # type: ignore[return-value]


def _bars(ax: Axes, x: np.ndarray, blocks: Sequence[Mapping[str, Any]], width: float, label: str,
          color: str) -> None:
    est = np.array([_est(b) for b in blocks])
    ax.bar(x, est[:, 0], width, label=label, color=color, alpha=0.85)
    ax.errorbar(x, est[:, 0], yerr=[est[:, 0] - est[:, 1], est[:, 2] - est[:, 0]], fmt="none",
                ecolor="black", capsize=2, lw=0.8)


def plot_spectrum(bands: Sequence[Mapping[str, Any]], ax: Axes | None = None, *,
                  original: Mapping[str, Any] | None = None) -> Axes:
    """Macro AUC with only each frequency ring kept and with it removed, with 95 % intervals."""
    ax = _ax(ax, (6.0, 3.6))
    x = np.arange(len(bands))
    _bars(ax, x - 0.2, [b["keep"] for b in bands], 0.4, "only this ring kept", "#1f77b4")
    _bars(ax, x + 0.2, [b["remove"] for b in bands], 0.4, "this ring removed", "#d62728")
    if original is not None:
        ax.axhline(_est(original)[0], color="grey", ls="--", lw=0.8, label="original")
    ax.axhline(CHANCE, color="black", ls=":", lw=0.8)
    ax.set_xticks(x, [f"{b['inner']:g}–{b['outer']:g}" for b in bands], rotation=30, fontsize=7)
    ax.set_xlabel("frequency ring (radius, frequency pixels)")
    ax.set_ylabel("race AUC (macro)")
    ax.set_ylim(min(AUC_LIMITS[0], 0.3), 1.0)
    ax.legend(fontsize=7, loc="lower left")
    return ax


def plot_tile_map(cells: Sequence[Mapping[str, Any]], grid: int, ax: Axes | None = None, *,
                  key: str = "remove") -> Axes:
    """Heat map of the macro AUC per tile with the tile kept alone (``keep``) or masked."""
    ax = _ax(ax, (3.4, 3.2))
    auc = np.full((grid, grid), np.nan)
    for c in cells:
        auc[c["row"], c["col"]] = _est(c[key])[0]
    im = ax.imshow(auc, vmin=0.5, vmax=1.0, cmap="viridis")
    for (r, c), v in np.ndenumerate(auc):
        ax.text(c, r, f"{v:.2f}", ha="center", va="center", fontsize=7, color="white")
    ax.set_title({"remove": "AUC with the tile masked", "keep": "AUC with only the tile"}[key],
                 fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.figure.colorbar(im, ax=ax, fraction=0.046)
    return ax


def plot_mass_map(mass: Sequence[Sequence[float]], ax: Axes | None = None, *, title: str = "") -> Axes:
    """Heat map of the share of attribution mass per tile (row 0 at the top), values written."""
    ax = _ax(ax, (2.6, 2.4))
    arr = np.asarray(mass, dtype=float)
    ax.imshow(arr, vmin=0, vmax=max(float(arr.max()), 1e-9), cmap="inferno")
    for (r, c), v in np.ndenumerate(arr):
        ax.text(c, r, f"{v:.2f}", ha="center", va="center", fontsize=6,
                color="black" if v > 0.6 * arr.max() else "white")
    ax.set_title(title, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def plot_attribution_map(mean_map: np.ndarray, ax: Axes | None = None, *, title: str = "",
                         background: np.ndarray | None = None, grid: int | None = None) -> Axes:
    """A mean attribution map over a neutral frame (or over a mean image), the grid drawn."""
    ax = _ax(ax, (3.0, 3.0))
    h, w = mean_map.shape
    if background is not None:
        ax.imshow(background, cmap="gray", vmin=0, vmax=1)
    else:
        ax.imshow(np.full((h, w), 0.5), cmap="gray", vmin=0, vmax=1)
    ax.imshow(mean_map / max(float(mean_map.max()), 1e-30), cmap="inferno", alpha=0.65, vmin=0, vmax=1)
    for i in range(1, grid or 0):
        ax.axhline(i * h / grid - 0.5, color="white", lw=0.5)
        ax.axvline(i * w / grid - 0.5, color="white", lw=0.5)
    ax.set_title(title, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def plot_deletion(deletion: Sequence[Mapping[str, Any]], ax: Axes | None = None, *,
                  original: Mapping[str, Any] | None = None) -> Axes:
    """Macro AUC against the fraction of pixels masked: most-attributed versus random."""
    ax = _ax(ax, (4.2, 3.4))
    x = np.array([d["fraction"] for d in deletion]) * 100
    for key, label, color in (("top", "top attributed", "#d62728"), ("random", "random", "#1f77b4")):
        est = np.array([_est(d[key]) for d in deletion])
        ax.plot(x, est[:, 0], marker="o", color=color, label=label)
        ax.fill_between(x, est[:, 1], est[:, 2], color=color, alpha=0.2)
    if original is not None:
        ax.axhline(_est(original)[0], color="grey", ls="--", lw=0.8, label="nothing masked")
    ax.axhline(CHANCE, color="black", ls=":", lw=0.8)
    ax.set_xlabel("pixels masked (%)")
    ax.set_ylabel("race AUC (macro)")
    ax.set_ylim(0.3, 1.0)
    ax.legend(fontsize=7)
    return ax


def write_figures(result: ExplainResult, out: Path) -> list[Path]:
    """Write ``spectrum.png``, ``tiles.png``, ``attribution.png`` and ``deletion.png`` into ``out``."""
    from matplotlib.figure import Figure

    out = Path(out)
    grid = int(result.tiles["grid"])
    written = []
    fig = Figure(figsize=(max(5.0, 0.7 * len(result.bands) + 1), 3.8))
    plot_spectrum(result.bands, fig.add_subplot(), original=result.original)
    written.append(_save(fig, out / "spectrum.png"))
    fig = Figure(figsize=(7.0, 3.2))
    plot_tile_map(result.tiles["cells"], grid, fig.add_subplot(1, 2, 1), key="keep")
    plot_tile_map(result.tiles["cells"], grid, fig.add_subplot(1, 2, 2), key="remove")
    written.append(_save(fig, out / "tiles.png"))
    if result.maps:
        rows = list(result.maps.items())
        n_cols = 1 + max(len(per) for _, (_, per) in rows)
        fig = Figure(figsize=(2.2 * n_cols, 2.3 * len(rows)))
        frame = "over the mean test image" if result.mean_image is not None else "neutral frame"
        for i, (method, (overall, per)) in enumerate(rows):
            panels = [("all", overall), *per.items()]
            for j, (name, m) in enumerate(panels):
                plot_attribution_map(m, fig.add_subplot(len(rows), n_cols, i * n_cols + j + 1),
                                     title=f"{method}: {name}", background=result.mean_image,
                                     grid=grid)
        fig.suptitle(f"mean attribution ({frame})", fontsize=9)
        written.append(_save(fig, out / "attribution.png"))
    if result.deletion:
        fig = Figure(figsize=(4.4, 3.6))
        plot_deletion(result.deletion, fig.add_subplot(), original=result.extras.get("deletion_original"))
        written.append(_save(fig, out / "deletion.png"))
    return written


def _save(fig: Any, path: Path) -> Path:
    from racelens.shared.tables import atomic_path

    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    return path
