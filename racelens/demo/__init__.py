"""The built-in known-answer run and its synthetic cohort writer."""

# the public modules; importing the package imports none of them (no torch at start-up)
__all__ = ["ct", "run", "synth"]
