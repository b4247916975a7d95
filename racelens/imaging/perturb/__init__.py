"""Image perturbations as small seeded objects, and their strength axes."""

# the public modules; importing the package imports none of them (no torch at start-up)
__all__ = ["axes", "base", "transforms"]
