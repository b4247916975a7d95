"""The evaluation and bias-metric layer both modalities share (it imports neither)."""

# the public modules; importing the package imports none of them (no torch at start-up)
__all__ = ["labels", "metrics", "report", "train", "atomic", "cohort", "export", "plugins", "predictions", "resample", "results", "run_files", "seeds", "shortcut", "shortcut_eval", "splits", "synthetic", "tables", "units"]
