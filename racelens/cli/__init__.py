"""The racelens command: one Typer app, a thin module per group."""

# the public modules; importing the package imports none of them (no torch at start-up)
__all__ = ["demo", "export", "imaging", "imaging_manifest", "main", "reader", "report", "study", "synth", "text", "text_cohort", "text_evaluate", "text_explain", "text_redact"]
