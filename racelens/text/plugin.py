"""What the text layer registers with the shared layer (report sections, attachments, strength axes).

Loaded by :func:`racelens.shared.plugins.load_plugins` through the ``racelens.plugins`` entry point,
so ``racelens.shared`` never imports this package nor names its concepts.
"""

from __future__ import annotations

__all__: list[str] = []
