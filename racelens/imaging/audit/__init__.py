"""The imaging audit and the baselines and probes that share its prepared data."""

# the public modules; importing the package imports none of them (no torch at start-up)
__all__ = ["baselines", "data", "probe", "run", "slices"]
