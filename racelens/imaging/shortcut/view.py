"""The report section of ``shortcut.json`` (registered by :mod:`racelens.imaging.plugin`).

One card per shortcut run: the test (ρ with its interval, p, verdict), the bounds of encoding,
the mitigation table (task AUC, gap and encoding with intervals), and the encoding-vs-gap scatter
with the fitted trend beside the mitigations' gaps. Aggregates only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from racelens.shared.report.format import fmt_ci, fmt_num, fmt_p
from racelens.shared.report.registry import Card, Figure, Origin, SectionView, Table
from racelens.shared.shortcut import ShortcutResult

__all__ = ["SHORTCUT_FILE", "render_shortcuts"]

SHORTCUT_FILE = "shortcut.json"


def _macro(block: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    return block.get("macro") if isinstance(block, Mapping) else None


def _figure(result: ShortcutResult) -> str:
    from matplotlib.figure import Figure as MplFigure

    from racelens.imaging.shortcut.plots import plot_encoding_vs_gap, plot_mitigation_gaps
    from racelens.shared.report.build import svg_uri  # the report's one SVG encoder

    fig = MplFigure(figsize=(10.5, 4.2))
    plot_encoding_vs_gap(result, fig.add_subplot(1, 2, 1))
    plot_mitigation_gaps(result, fig.add_subplot(1, 2, 2))
    fig.tight_layout()
    return svg_uri(fig)


def render_shortcuts(docs: list[tuple[Origin, Mapping[str, Any]]]) -> SectionView:
    """A card per ``shortcut.json``; ``data`` holds each run's test and mitigation rows."""
    cards, data = [], []
    for origin, d in docs:
        result = ShortcutResult.from_dict(d)
        t = result.test
        rho = {"estimate": None if t.spearman != t.spearman else t.spearman,
               "ci_low": None if t.ci_low != t.ci_low else t.ci_low,
               "ci_high": None if t.ci_high != t.ci_high else t.ci_high}
        bounds = result.extras.get("encoding_bounds", {})
        facts = [("task", result.task), ("gap", f"{result.gap_metric} (max − min over groups)"),
                 ("threshold", f"{result.threshold_rule}, chosen on validation"),
                 ("models", f"{t.n_models} used, {t.n_excluded} below task AUC {fmt_num(t.min_task_auc, 2)}"),
                 ("Spearman ρ", fmt_ci(rho)), ("permutation p", fmt_p(None if t.p_value != t.p_value else t.p_value)),
                 ("verdict", t.verdict),
                 ("encoding, shuffled labels", fmt_ci(_macro(bounds.get("lower", {}).get("auc")))),
                 ("encoding, race-trained model", fmt_ci(_macro(bounds.get("upper", {}).get("auc"))))]
        rows = [[str(m["name"]) + (f" ({m['selected']})" if m.get("selected") else ""),
                 fmt_ci(_macro(m.get("task_auc"))), fmt_ci(m.get("gap")), fmt_ci(_macro(m.get("encoding_auc")))]
                for m in result.mitigations]
        table = Table("Mitigations (test set)", ["model", "task AUC", f"{result.gap_metric} gap",
                                                 "race encoding"], rows)
        test_set = result.extras.get("test_set", {})
        notes = []
        if test_set.get("resample") == "balanced":
            notes.append(f"Gaps on a race-balanced test subset: {test_set.get('kept')} of "
                         f"{test_set.get('n_rows')} test rows kept (equal size, prevalence and age "
                         f"bins per group; {test_set.get('dropped_to_balance')} dropped to balance, "
                         f"{test_set.get('dropped_missing_age')} without an age).")
        cards.append(Card(title=f"{origin.label} · shortcut test", facts=facts, tables=[table],
                          figures=[Figure(_figure(result), "race encoding against the fairness gap, "
                                          "per sweep model (intervals as bars), and the mitigations")],
                          notes=notes))
        data.append({"label": origin.label, "task": result.task, "test": t.to_dict(),
                     "mitigations": [dict(m) for m in result.mitigations]})
    return SectionView(cards=cards, data=data)
