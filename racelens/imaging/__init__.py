"""Radiographs and volumes: sources, decoding, cache, perturbations, audit, explain, shortcut."""

# the public modules; importing the package imports none of them (no torch at start-up)
__all__ = ["audit", "cache", "explain", "io", "perturb", "shortcut", "sources", "models", "plugin", "synthetic", "synthetic_series"]
