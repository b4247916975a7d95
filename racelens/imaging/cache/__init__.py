"""The on-disk memory-mapped image cache every epoch and perturbation reads."""

# the public modules; importing the package imports none of them (no torch at start-up)
__all__ = ["build", "fill"]
