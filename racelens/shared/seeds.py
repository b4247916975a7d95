"""Derived seeds: one seed per run, an independent child seed per purpose.

The parts of a run that need their own randomness (the synthetic cohort's views, images, files
and notes; a perturbation's children and samples) get seeds derived from the run's ``seed``
with :class:`numpy.random.SeedSequence`, instead of ``seed + 1``, ``seed + 2``... (where run
``seed=1``'s images would be run ``seed=0``'s views). Keys are integers or names; the global
RNGs are never touched.

Example
-------
>>> derive_seed(0, "views") == derive_seed(0, "views") != derive_seed(0, "notes")
True
>>> derive_seed(3, 1) == derive_seed(3, 1)
True
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["derive_seed"]


def _key(k: int | str) -> int:
    if isinstance(k, str):  # a stable integer per name (Python's hash() is salted per process)
        return int.from_bytes(hashlib.sha256(k.encode("utf-8")).digest()[:8], "little") % 2**63
    return int(k) % 2**63


def derive_seed(*keys: int | str) -> int:
    """A 63-bit seed derived from keys (``SeedSequence``), for children, samples and streams."""
    state = np.random.SeedSequence([_key(k) for k in keys]).generate_state(2, np.uint64)
    return int(state[0] % np.uint64(2**63))
