"""Race-leakage models for notes (TF-IDF + logistic regression, local transformers)."""

# the public modules; importing the package imports none of them (no torch at start-up)
__all__ = ["factory", "tfidf", "transformer"]
