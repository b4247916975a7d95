"""Load what the modality layers register with the shared layer, without importing them by name.

Each modality (imaging, text, reader, ...) declares one module under the ``racelens.plugins``
entry-point group in ``pyproject.toml``; importing that module registers its report sections,
attachment types and strength axes. The shared layer calls :func:`load_plugins` before it needs
them (the report, the export), so ``racelens.shared`` depends on no modality, not even by string.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

__all__ = ["PLUGIN_GROUP", "load_plugins"]

PLUGIN_GROUP = "racelens.plugins"
_loaded: set[str] = set()


def load_plugins() -> tuple[str, ...]:
    """Import every registered plugin module once; return their names (sorted)."""
    for ep in entry_points(group=PLUGIN_GROUP):
        if ep.name not in _loaded:
            importlib.import_module(ep.value.split(":", 1)[0])
            _loaded.add(ep.name)
    return tuple(sorted(_loaded))
