"""Where is the race signal in an image? Spectrum rings, tiles, attribution, deletion, intensity.

See :func:`racelens.imaging.explain.run.run_explain` (``racelens imaging explain``). The names
that need torch are imported on first use, so the report's section (:mod:`.view`) and the
document reader load without it.
"""

from __future__ import annotations

from typing import Any

from racelens.imaging.explain.write import EXPLAIN_SCHEMA, ExplainResult, read_explain

__all__ = ["EXPLAIN_SCHEMA", "ExplainConfig", "ExplainResult", "read_explain", "run_explain"]


def __getattr__(name: str) -> Any:
    if name in ("ExplainConfig", "run_explain"):
        from racelens.imaging.explain import run

        return getattr(run, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
