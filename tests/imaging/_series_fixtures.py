"""CT series trees for the series tests: the library's writer (racelens.imaging.synthetic_series)."""

from __future__ import annotations

from racelens.imaging.synthetic_series import AXIAL
from racelens.imaging.synthetic_series import write_ct_slice as ct_slice
from racelens.imaging.synthetic_series import write_ct_tree as ct_tree

__all__ = ["AXIAL", "ct_slice", "ct_tree"]
