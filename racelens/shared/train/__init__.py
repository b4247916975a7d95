"""One torch training loop for both modalities: the loop, objectives, checkpoints, DDP, inference."""

# the public modules; importing the package imports none of them (no torch at start-up)
__all__ = ["checkpoint", "distributed", "inference", "launch", "loop", "objectives"]
