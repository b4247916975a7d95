"""Where is the race signal in an image? Spectrum rings, tiles, attribution, deletion, intensity.

See :func:`racelens.imaging.explain.run.run_explain` (``racelens imaging explain``).
"""

from racelens.imaging.explain.run import ExplainConfig, run_explain
from racelens.imaging.explain.write import EXPLAIN_SCHEMA, ExplainResult, read_explain

__all__ = ["EXPLAIN_SCHEMA", "ExplainConfig", "ExplainResult", "read_explain", "run_explain"]
