"""Clinical notes: sources, redaction, the redaction check, leakage models, audit and explanations."""

# the public modules; importing the package imports none of them (no torch at start-up)
__all__ = ["check", "evaluate", "explain", "integrations", "models", "redact", "spark", "audit", "axis", "plugin", "sources", "synthetic"]
