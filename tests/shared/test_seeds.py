"""Derived seeds: stable, distinct per key, and the perturbations' children unchanged."""

from __future__ import annotations

import numpy as np

from racelens.shared.seeds import derive_seed


def test_integer_keys_are_the_seed_sequence_state():
    expect = int(np.random.SeedSequence([7, 3]).generate_state(2, np.uint64)[0] % np.uint64(2**63))
    assert derive_seed(7, 3) == expect  # what imaging perturbations derived before the move


def test_named_keys_are_stable_and_distinct():
    seeds = {derive_seed(0, k) for k in ("views", "images", "image files", "notes")}
    assert len(seeds) == 4 and derive_seed(0, "views") == derive_seed(0, "views")
    assert derive_seed(0, "views") != derive_seed(1, "views")
    assert all(0 <= s < 2**63 for s in seeds)
