"""What the imaging layer registers with the shared layer (report sections, attachments, strength axes).

Loaded by :func:`racelens.shared.plugins.load_plugins` through the ``racelens.plugins`` entry point,
so ``racelens.shared`` never imports this package nor names its concepts:

- the strength axis of every image perturbation (:mod:`racelens.imaging.perturb.axes`, which
  imports no torch), so the report places image conditions of older result files too.
"""

from __future__ import annotations

from racelens.imaging.perturb import axes
from racelens.shared.report.registry import StrengthAxis, register_strength

__all__: list[str] = []

for _order, _axis in enumerate(axes.AXES.values()):
    register_strength(StrengthAxis(condition=_axis.name, place=axes.place,
                                   family_titles={_axis.name: _axis.title}, order=_order))
